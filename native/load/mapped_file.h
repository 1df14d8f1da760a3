// The bytes of one checkpoint shard, read-only: a memory map of the file (weights used in place from the page
// cache), or the file read once into resident memory on huge pages (resident_memory.h: the faster decode,
// at the cost of reading the whole file while loading and holding it in process memory). Nothing is
// converted either way. The same view can hold an OwnedWeights buffer instead (weights quantized while
// loading), kept alive by it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "resident_memory.h"

namespace smoe {

// Weight bytes in process memory (allocated by allocWeights, filled by quantizeRows), shared by the JS handle
// and the models that use them.
struct OwnedWeights {
  explicit OwnedWeights(size_t n) : mem(n, "quantized weights") {}  // throws Error{OUT_OF_MEMORY}
  uint8_t* data() const { return mem.data(); }
  size_t size() const { return mem.size(); }
  ResidentMemory mem;
};

class MappedFile {
 public:
  // resident: read the file into huge-page memory instead of mapping it.
  MappedFile(const std::string& path, bool resident);  // throws Error{FILE_OPEN | FILE_MAP | FILE_READ | OUT_OF_MEMORY}
  MappedFile(std::string label, std::shared_ptr<const OwnedWeights> owned);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  const char* data() const { return static_cast<const char*>(addr_); }
  size_t size() const { return size_; }
  bool resident() const { return resident_ != nullptr || owned_ != nullptr; }
  // Makes the bytes [p, p + n) of this file writable for this process only, so a backend can rewrite weights
  // in place (a mapping becomes copy-on-write: the file is never written); true when they are. False for an
  // OwnedWeights buffer, whose bytes the JS handle and other models may share.
  bool make_writable(const void* p, size_t n);
  bool contains(const void* p, size_t n) const {
    const char* c = static_cast<const char*>(p);
    return n <= size_ && c >= data() && size_t(c - data()) <= size_ - n;
  }

 private:
  std::string path_;
  void* addr_ = nullptr;
  size_t size_ = 0;
  std::unique_ptr<ResidentMemory> resident_;      // set when the file was read into memory
  std::shared_ptr<const OwnedWeights> owned_;  // set when the bytes are owned memory, not a mapping
};

}  // namespace smoe
