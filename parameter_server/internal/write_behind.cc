#include "parameter_server/internal/write_behind.h"

#include <algorithm>
#include <map>
#include <utility>

#include <glog/logging.h>

#include "common/hash.h"

namespace msrec {

size_t EvictedRows::ChargedBytes() const {
  return bytes.size() + rows.size() * WriteBehind::kRowCharge;
}

size_t WriteBehind::Generation::KeyHash::operator()(const std::pair<uint32_t, uint64_t>& k) const {
  return Mix64(k.second ^ (uint64_t{k.first} * 0x9E3779B97F4A7C15ULL));
}

WriteBehind::WriteBehind(EmbeddingStore* backing, size_t budget_bytes,
                         std::function<std::string(uint32_t)> table_name)
    : backing_(backing),
      generation_budget_(std::max<size_t>(1, budget_bytes / 2)),
      table_name_(std::move(table_name)),
      thread_([this] { Run(); }) {}

WriteBehind::~WriteBehind() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_one();
  thread_.join();
}

Status WriteBehind::Add(EvictedRows&& rows) {
  if (rows.empty()) return Status::OK();
  const size_t charged = rows.ChargedBytes();
  std::unique_lock<std::mutex> lock(mu_);
  if (!error_.ok()) return error_;
  if (!filling_.empty() && filling_.charged + charged > generation_budget_) {
    const auto start = std::chrono::steady_clock::now();
    done_cv_.wait(lock, [&] {
      return !error_.ok() || filling_.empty() || filling_.charged + charged <= generation_budget_;
    });
    add_wait_us_ += std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    if (!error_.ok()) return error_;
  }
  const uint32_t part = static_cast<uint32_t>(filling_.parts.size());
  for (uint32_t r = 0; r < rows.rows.size(); ++r) {
    filling_.index[{rows.rows[r].table, rows.rows[r].key}] = Generation::Entry{part, r};
  }
  filling_.charged += charged;
  filling_.row_count += rows.rows.size();
  filling_.parts.push_back(std::move(rows));
  lock.unlock();
  work_cv_.notify_one();
  return Status::OK();
}

bool WriteBehind::FindIn(const Generation& gen, uint32_t table, uint64_t key,
                         const std::function<void(std::string_view)>& fn) {
  if (gen.empty()) return false;
  auto it = gen.index.find({table, key});
  if (it == gen.index.end()) return false;
  fn(gen.parts[it->second.part].RowAt(it->second.row));
  return true;
}

bool WriteBehind::Find(uint32_t table, uint64_t key,
                       const std::function<void(std::string_view)>& fn) const {
  std::lock_guard<std::mutex> lock(mu_);
  return FindIn(filling_, table, key, fn) || FindIn(writing_, table, key, fn);
}

Status WriteBehind::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t target = 0;
  if (!filling_.empty()) {
    target = filling_seq_;
  } else if (!writing_.empty()) {
    target = writing_seq_;
  } else {
    return Status::OK();
  }
  const uint64_t failures_before = failures_;
  retry_now_ = true;
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return generations_done_ >= target || failures_ != failures_before; });
  return generations_done_ >= target ? Status::OK() : error_;
}

WriteBehind::Stats WriteBehind::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s;
  s.rows = filling_.row_count + writing_.row_count;
  s.bytes = filling_.charged + writing_.charged;
  s.written_rows = written_rows_;
  s.batches = batches_;
  s.add_wait_us = add_wait_us_;
  return s;
}

// Only this thread swaps, writes and clears `writing_`; it reads it without
// the lock while writing (Add only touches `filling_`, Find only reads).
void WriteBehind::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (writing_.empty() && !filling_.empty()) {
      std::swap(writing_, filling_);
      writing_seq_ = filling_seq_++;
      done_cv_.notify_all();  // room in the filling generation
    }
    if (writing_.empty()) {
      if (stop_) return;
      work_cv_.wait(lock);
      continue;
    }
    retry_now_ = false;
    lock.unlock();
    const Status written = WriteGeneration(writing_);
    lock.lock();
    if (written.ok()) {
      written_rows_ += writing_.index.size();
      writing_.Clear();
      generations_done_ = writing_seq_;
      error_ = Status::OK();
      done_cv_.notify_all();
      continue;
    }
    ++failures_;
    error_ = written;
    done_cv_.notify_all();
    if (stop_) {
      LOG(ERROR) << "row cache write-behind: " << writing_.index.size() + filling_.index.size()
                 << " evicted rows not written at close: " << written.ToString();
      return;
    }
    work_cv_.wait_for(lock, kRetryInterval, [&] { return retry_now_ || stop_; });
  }
}

Status WriteBehind::WriteGeneration(const Generation& gen) {
  // The newest row of each key, grouped by table (RocksDbStore::Write sorts
  // each batch by key).
  std::map<uint32_t, std::vector<const Generation::Entry*>> by_table;
  for (const auto& [table_key, entry] : gen.index) by_table[table_key.first].push_back(&entry);
  std::vector<uint64_t> keys;
  std::vector<std::string> rows;
  for (const auto& [table, entries] : by_table) {
    keys.clear();
    rows.clear();
    keys.reserve(entries.size());
    rows.reserve(entries.size());
    for (const Generation::Entry* e : entries) {
      const EvictedRows& part = gen.parts[e->part];
      keys.push_back(part.rows[e->row].key);
      rows.emplace_back(part.RowAt(e->row));
    }
    MSREC_RETURN_IF_ERROR(backing_->Write(table_name_(table), keys.data(), keys.size(), rows.data())
                              .WithContext("row cache write-behind"));
    std::lock_guard<std::mutex> lock(mu_);
    ++batches_;
  }
  return Status::OK();
}

}  // namespace msrec
