// Work done ahead on threads of their own: the training loop's next batches while the device trains
// on the current one, the next micrographs read and prepared while the network picks in these.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace cupick {

// Calls make(0), make(1), ..., make(count - 1) on `workers` threads of their own and hands the
// results out in index order. Memory stays bounded: each worker takes the next index only while
// fewer than depth + workers items are made or waiting beyond the ones handed out (with one worker:
// `depth` finished items waiting and the one being made). With one worker make() is called in index
// order, one call at a time (the training loop's random draws rely on it); with several, calls run
// at once and may finish in any order. An exception from make(i) is rethrown by next() in place of
// item i, and ends the sequence. Destroying the Background stops the threads after the items they
// are making.
template <class T>
class Background {
 public:
  Background(size_t count, size_t depth, std::function<T(size_t)> make, size_t workers = 1)
      : count_(count), window_((depth < 1 ? 1 : depth) + (workers < 1 ? 1 : workers)), make_(std::move(make)) {
    for (size_t w = 0; w < (workers < 1 ? 1 : workers); ++w) threads_.emplace_back([this] { run(); });
  }
  ~Background() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  // The next item, or nothing after the last one (or after an error); waits for it.
  std::optional<T> next() {
    std::unique_lock lock(mutex_);
    if (taken_ == count_ || failed_) return std::nullopt;
    changed_.wait(lock, [this] { return finished_.count(taken_) > 0; });
    auto node = finished_.extract(taken_++);
    changed_.notify_all();
    if (node.mapped().second) {
      failed_ = true;
      std::rethrow_exception(node.mapped().second);
    }
    return std::move(node.mapped().first);
  }

 private:
  void run() {
    for (;;) {
      size_t index;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [this] { return stop_ || next_ == count_ || next_ - taken_ < window_; });
        if (stop_ || next_ == count_) return;
        index = next_++;
      }
      std::optional<T> item;
      std::exception_ptr error;
      try {
        item = make_(index);
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard lock(mutex_);
      finished_.emplace(index, std::make_pair(std::move(item), error));
      changed_.notify_all();
    }
  }

  const size_t count_, window_;
  std::function<T(size_t)> make_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<size_t, std::pair<std::optional<T>, std::exception_ptr>> finished_;  // made, not taken
  size_t next_ = 0, taken_ = 0;  // the next index to make, the next to hand out
  bool failed_ = false, stop_ = false;
  std::vector<std::thread> threads_;  // last: they start once everything above exists
};

}  // namespace cupick
