// A fixed pool of worker threads for data-parallel loops. The calling thread takes part in the work.
// Workers spin briefly before sleeping, so the many short parallel loops of a decode step stay cheap.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace smoe {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // Runs fn(begin, end, worker) over [0, n) split into contiguous chunks, one per thread (at most),
  // each chunk a multiple of `grain` except the last. Returns when every chunk is done.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

  // Runs fn(task, worker) for task in [0, n), handed out dynamically (for uneven work such as experts).
  void parallel_tasks(int64_t n, const std::function<void(int64_t, int)>& fn);

 private:
  void worker_loop(int index);
  void run(const std::function<void(int)>& job);  // job(worker) on every thread

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace smoe
