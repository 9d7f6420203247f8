#pragma once
// Network sessions (plans and activation arenas) lent to tiles rather than tied to threads: as
// many exist as tiles were ever in flight at once, which the memory budget bounds.
#include <luojia/nn/model.hpp>

#include <memory>
#include <mutex>
#include <vector>

namespace luojia::detail {

class SessionPool {
public:
  explicit SessionPool(const nn::Model& model) : model_(model) {}

  class Lease {
  public:
    Lease(SessionPool& pool, std::unique_ptr<nn::Session> session) : pool_(pool), session_(std::move(session)) {}
    ~Lease() { pool_.give_back(std::move(session_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    nn::Session& operator*() const { return *session_; }
    nn::Session* operator->() const { return session_.get(); }

  private:
    SessionPool& pool_;
    std::unique_ptr<nn::Session> session_;
  };

  Lease borrow() {
    std::lock_guard lock(mutex_);
    if (idle_.empty()) return Lease(*this, std::make_unique<nn::Session>(model_));
    auto s = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(s));
  }

private:
  void give_back(std::unique_ptr<nn::Session> s) {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(s));
  }
  const nn::Model& model_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<nn::Session>> idle_;
};

}  // namespace luojia::detail
