// A fixed pool of worker threads for data-parallel loops. The calling thread takes part in the work.
// Dispatch is a generation counter the workers spin on, so the many short parallel loops of a decode step
// cost no system call; a worker that finds no work for a bounded time (SMOE_SPIN_US, default 1000 us)
// sleeps on a condition variable, so an idle process burns no CPU. The caller only signals the condition
// variable when some worker sleeps.
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

  // Runs job(worker) once on every thread of the pool (worker 0 is the caller) and returns when all are
  // done: one parallel region, inside which job may call barrier().
  void run(const std::function<void(int)>& job);

  // Inside run(): returns once every thread of the pool has reached it (a spinning barrier; the region's
  // threads are all busy, so none sleeps).
  void barrier();

  // Runs fn(begin, end, worker) over [0, n) split into contiguous chunks, one per thread (at most),
  // each chunk a multiple of `grain` except the last. Returns when every chunk is done.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

  // Runs fn(task, worker) for task in [0, n), handed out dynamically (for uneven work such as attention).
  void parallel_tasks(int64_t n, const std::function<void(int64_t, int)>& fn);

 private:
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void(int)>* job_ = nullptr;
  int64_t spin_ns_;                     // how long an idle worker spins before it sleeps
  std::atomic<uint64_t> generation_{0};  // bumped once per run(); workers run the job when it moves
  std::atomic<int> pending_{0};          // workers still inside the current job
  std::atomic<int> sleepers_{0};         // workers waiting on cv_
  std::atomic<bool> stop_{false};
  alignas(64) std::atomic<int> bar_count_{0};
  std::atomic<uint32_t> bar_phase_{0};
};

}  // namespace smoe
