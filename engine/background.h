// Work done ahead on a thread of its own: the training loop's next batches while the device trains
// on the current one.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace cupick {

// Calls `make` on a thread of its own, again and again until it returns nothing, and hands its
// results out in order, at most `depth` finished ones waiting (memory stays bounded: `depth` items
// plus the one being made). An exception from `make` ends the sequence and is rethrown by next() in
// place of the item. Destroying the Background stops the thread after the item it is making.
template <class T>
class Background {
 public:
  Background(size_t depth, std::function<std::optional<T>()> make)
      : depth_(depth < 1 ? 1 : depth), make_(std::move(make)), thread_([this] { run(); }) {}
  ~Background() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  // The next item, or nothing once `make` has returned nothing; waits for it.
  std::optional<T> next() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !ready_.empty() || done_; });
    if (ready_.empty()) {
      if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
      return std::nullopt;
    }
    T item = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();
    return item;
  }

 private:
  void run() {
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (stop_) return;
      }
      std::optional<T> item;
      std::exception_ptr error;
      try {
        item = make_();
      } catch (...) {
        error = std::current_exception();
      }
      std::unique_lock lock(mutex_);
      if (!item) {
        error_ = error;
        done_ = true;
        changed_.notify_all();
        return;
      }
      changed_.wait(lock, [this] { return ready_.size() < depth_ || stop_; });
      if (stop_) return;
      ready_.push_back(std::move(*item));
      changed_.notify_all();
    }
  }

  size_t depth_;
  std::function<std::optional<T>()> make_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<T> ready_;
  std::exception_ptr error_;
  bool done_ = false, stop_ = false;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace cupick
