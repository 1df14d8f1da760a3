// A read-only memory map of one checkpoint shard. Weights are used in place: nothing is copied or converted.
#pragma once
#include <cstddef>
#include <string>

namespace smoe {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws Error{FILE_OPEN | FILE_MAP}
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
};

}  // namespace smoe
