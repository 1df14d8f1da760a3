#include "mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "../core/error.h"

namespace smoe {

MappedFile::MappedFile(const std::string& path, bool resident) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("FILE_OPEN", "cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("FILE_OPEN", "not a regular file: " + path);
  }
  size_ = size_t(st.st_size);
  if (size_ > 0 && resident) {
    try {
      resident_ = std::make_unique<ResidentMemory>(size_, path);
      read_file_into(path, fd, *resident_);
    } catch (...) {
      ::close(fd);
      throw;
    }
    addr_ = resident_->data();
  } else if (size_ > 0) {
    addr_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr_ == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      addr_ = nullptr;
      throw Error("FILE_MAP", "cannot memory-map " + path + ": " + std::strerror(e));
    }
    ::madvise(addr_, size_, MADV_WILLNEED);  // start reading ahead; pages still load lazily
  }
  ::close(fd);
}

MappedFile::MappedFile(std::string label, std::shared_ptr<const OwnedWeights> owned)
    : path_(std::move(label)), addr_(owned->data()), size_(owned->size()), owned_(std::move(owned)) {}

bool MappedFile::make_writable(const void* p, size_t n) {
  if (owned_ || !contains(p, n)) return false;
  if (resident_ || n == 0) return true;  // resident memory is the process's own, already writable
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const uintptr_t b = uintptr_t(p) & ~(page - 1), e = (uintptr_t(p) + n + page - 1) & ~(page - 1);
  return ::mprotect(reinterpret_cast<void*>(b), e - b, PROT_READ | PROT_WRITE) == 0;
}

MappedFile::~MappedFile() {
  if (addr_ && !owned_ && !resident_) ::munmap(addr_, size_);
}

}  // namespace smoe
