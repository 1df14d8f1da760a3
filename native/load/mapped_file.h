// A read-only memory map of one checkpoint shard. Weights are used in place: nothing is copied or converted.
// The same view can hold an OwnedWeights buffer instead (weights quantized while loading), kept alive by it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace smoe {

// Weight bytes in process memory (allocated by allocWeights, filled by quantizeRows), shared by the JS handle
// and the models that use them.
struct OwnedWeights {
  explicit OwnedWeights(size_t n);  // throws Error{OUT_OF_MEMORY}
  std::unique_ptr<uint8_t[]> data;
  size_t size;
};

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws Error{FILE_OPEN | FILE_MAP}
  MappedFile(std::string label, std::shared_ptr<const OwnedWeights> owned);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  const char* data() const { return static_cast<const char*>(addr_); }
  size_t size() const { return size_; }

 private:
  std::string path_;
  void* addr_ = nullptr;
  size_t size_ = 0;
  std::shared_ptr<const OwnedWeights> owned_;  // set when the bytes are owned memory, not a mapping
};

}  // namespace smoe
