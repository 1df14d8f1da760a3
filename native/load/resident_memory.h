// Process memory for weights: an anonymous mapping aligned to 2 MiB and advised for transparent huge pages,
// so a decode matvec, which streams every active weight once per token, walks 2 MiB pages instead of 4 KiB
// ones (fewer TLB misses and page walks between the hardware prefetcher's streams). Measured on the project's
// Zen 4 EPYC, 1 thread: a sequential read of the same bytes 17.7 GB/s on the page cache's 4 KiB pages,
// 27.7 GB/s on huge pages (bench/micro/matvec.cpp). Where the kernel grants no huge pages this is plain memory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace smoe {

class ResidentMemory {
 public:
  // n bytes, zero-filled, uncommitted until touched. Throws Error{OUT_OF_MEMORY} naming `what` and the size.
  ResidentMemory(size_t n, const std::string& what);
  ~ResidentMemory();
  ResidentMemory(const ResidentMemory&) = delete;
  ResidentMemory& operator=(const ResidentMemory&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* map_ = nullptr;  // the mapping, alignment slack included
  size_t map_len_ = 0;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads dst.size() bytes from the start of the open file `fd` (named `path` in errors) into dst.
// Throws Error{FILE_READ}.
void read_file_into(const std::string& path, int fd, ResidentMemory& dst);

}  // namespace smoe
