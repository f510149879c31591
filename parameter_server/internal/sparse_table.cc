#include "parameter_server/internal/sparse_table.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <utility>
#include <vector>

#include "common/hash.h"

namespace msrec {
namespace {

// Per-thread buffers of Pull and Push: the row strings keep their capacity
// across calls, so the steady state allocates nothing per key.
struct Scratch {
  std::vector<std::pair<uint64_t, uint32_t>> order;  // (key, position in the request)
  std::vector<uint64_t> unique_keys;
  std::vector<uint32_t> first_pos;  // request position of the first occurrence of unique_keys[u]
};

// Per-thread buffers of one part (the caller's part uses them beside its
// Scratch).
struct PartScratch {
  std::vector<uint64_t> write_keys;  // Push: the keys of rows[0 .. write_keys.size())
  std::vector<std::string> rows;
  std::vector<float> weights;
  std::vector<float> state;
  // RunParts: per part, its keys and their request positions.
  std::vector<std::vector<uint64_t>> part_keys;
  std::vector<std::vector<uint32_t>> part_pos;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

PartScratch& ThreadPartScratch() {
  thread_local PartScratch scratch;
  return scratch;
}

// Sorts the request by key into scratch->order and fills scratch->unique_keys.
void SortKeys(const uint64_t* keys, size_t n, Scratch* s) {
  s->order.resize(n);
  for (size_t i = 0; i < n; ++i) s->order[i] = {keys[i], static_cast<uint32_t>(i)};
  std::sort(s->order.begin(), s->order.end());
  s->unique_keys.clear();
  s->first_pos.clear();
  for (size_t i = 0; i < n; ++i) {
    if (i == 0 || s->order[i].first != s->order[i - 1].first) {
      s->unique_keys.push_back(s->order[i].first);
      s->first_pos.push_back(s->order[i].second);
    }
  }
}

Status CheckConfig(const TableConfig& c) {
  if (c.dim <= 0) {
    return Status::InvalidArgument("table '" + c.name + "': dim must be > 0, got " +
                                   std::to_string(c.dim));
  }
  if (!(c.init_scale >= 0.0f)) {
    return Status::InvalidArgument("table '" + c.name + "': init_scale must be >= 0");
  }
  if (c.admit_after < 1) {
    return Status::InvalidArgument("table '" + c.name + "': admit_after must be >= 1");
  }
  if (c.admit_after > 1 && c.admission_capacity == 0) {
    return Status::InvalidArgument("table '" + c.name + "': admission_capacity must be > 0");
  }
  if (c.ttl_steps < 0) {
    return Status::InvalidArgument("table '" + c.name + "': ttl_steps must be >= 0");
  }
  return ValidateTableName(c.name);
}

}  // namespace

void InitialWeights(uint64_t key, uint64_t seed, float init_scale, int dim, float* out) {
  const uint64_t base = Mix64(key ^ Mix64(seed));
  constexpr float kTwoPowMinus24 = 1.0f / 16777216.0f;
  for (int j = 0; j < dim; ++j) {
    const uint64_t r = Mix64(base + static_cast<uint64_t>(j));
    const float u = static_cast<float>(r >> 40) * kTwoPowMinus24;  // [0, 1), exact
    out[j] = (2.0f * u - 1.0f) * init_scale;
  }
}

Result<std::unique_ptr<SparseTable>> SparseTable::Create(const TableConfig& config,
                                                         EmbeddingStore* store) {
  MSREC_RETURN_IF_ERROR(CheckConfig(config));
  auto optimizer = MakeSparseOptimizer(config.optimizer);
  if (!optimizer.ok()) return optimizer.status().WithContext("table '" + config.name + "'");
  return std::unique_ptr<SparseTable>(new SparseTable(config, std::move(optimizer).value(), store));
}

SparseTable::SparseTable(const TableConfig& config, std::unique_ptr<SparseOptimizer> optimizer,
                         EmbeddingStore* store)
    : config_(config),
      optimizer_(std::move(optimizer)),
      layout_(config.optimizer.kind, config.dim, optimizer_->StateFloats(config.dim)),
      store_(store) {}

int SparseTable::PartsFor(size_t unique) const {
  // Admission counts sightings in order (and ages them when full): one part.
  if (pool_ == nullptr || config_.admit_after > 1) return 1;
  const size_t parts = std::min<size_t>(pool_->size(), unique / kMinKeysPerPart);
  return parts < 2 ? 1 : static_cast<int>(parts);
}

Status SparseTable::RunParts(
    int parts, const std::vector<uint64_t>& keys, const std::vector<uint32_t>& positions,
    const std::function<Status(const uint64_t*, const uint32_t*, size_t)>& fn) const {
  if (parts == 1) return fn(keys.data(), positions.data(), keys.size());
  PartScratch& ps = ThreadPartScratch();
  ps.part_keys.resize(parts);
  ps.part_pos.resize(parts);
  for (int p = 0; p < parts; ++p) {
    ps.part_keys[p].clear();
    ps.part_pos[p].clear();
  }
  // Sorted keys stay sorted within each part.
  for (size_t u = 0; u < keys.size(); ++u) {
    const int p = static_cast<int>(Mix64(keys[u]) % static_cast<uint64_t>(parts));
    ps.part_keys[p].push_back(keys[u]);
    ps.part_pos[p].push_back(positions[u]);
  }
  std::vector<Status> status(parts);
  pool_->Run(parts, [&](int p) {
    status[p] = fn(ps.part_keys[p].data(), ps.part_pos[p].data(), ps.part_keys[p].size());
  });
  for (const Status& st : status) MSREC_RETURN_IF_ERROR(st);
  return Status::OK();
}

Status SparseTable::PullPart(const uint64_t* keys, const uint32_t* pos, size_t m,
                             float* weights) const {
  const size_t dim = static_cast<size_t>(config_.dim);
  return store_->MultiGetVisit(
      config_.name, keys, m, /*sorted=*/true, [&](size_t u, bool found, std::string_view row) {
        const uint64_t key = keys[u];
        float* out = weights + pos[u] * dim;
        if (!found) {
          InitialWeights(key, config_.seed, config_.init_scale, config_.dim, out);
          return Status::OK();
        }
        MSREC_RETURN_IF_ERROR(layout_.Check(row, config_.name, key));
        layout_.Read(row, out, nullptr, nullptr, nullptr);
        return Status::OK();
      });
}

Status SparseTable::Pull(const uint64_t* keys, size_t n, float* weights) const {
  if (n == 0) return Status::OK();
  Scratch& s = ThreadScratch();
  SortKeys(keys, n, &s);
  const size_t dim = static_cast<size_t>(config_.dim);
  // Each unique key is written to the output of its first occurrence, straight
  // from the stored row (no copy of the row)...
  MSREC_RETURN_IF_ERROR(RunParts(PartsFor(s.unique_keys.size()), s.unique_keys, s.first_pos,
                                 [&](const uint64_t* part_keys, const uint32_t* pos, size_t m) {
                                   return PullPart(part_keys, pos, m, weights);
                                 }));
  // ...then copied to the repeats.
  if (s.unique_keys.size() != n) {
    const float* first = nullptr;
    for (size_t i = 0; i < n; ++i) {
      const float* out = weights + s.order[i].second * dim;
      if (i > 0 && s.order[i].first == s.order[i - 1].first) {
        std::memcpy(weights + s.order[i].second * dim, first, dim * sizeof(float));
      } else {
        first = out;
      }
    }
  }
  return Status::OK();
}

Status SparseTable::Push(const uint64_t* keys, size_t n, const float* grads, int64_t step) {
  if (step < 1) {
    return Status::InvalidArgument("push to table '" + config_.name + "' at step " +
                                   std::to_string(step) + ", steps start at 1");
  }
  if (n == 0) return Status::OK();
  std::lock_guard<std::mutex> lock(push_mu_);
  Scratch& s = ThreadScratch();
  SortKeys(keys, n, &s);
  if (s.unique_keys.size() != n) {
    for (size_t i = 1; i < n; ++i) {
      if (s.order[i].first == s.order[i - 1].first) {
        return Status::InvalidArgument("push to table '" + config_.name + "': key " +
                                       std::to_string(s.order[i].first) +
                                       " appears more than once (keys must be unique)");
      }
    }
  }
  return RunParts(PartsFor(n), s.unique_keys, s.first_pos,
                  [&](const uint64_t* part_keys, const uint32_t* pos, size_t m) {
                    return PushPart(part_keys, pos, m, grads, step);
                  });
}

Status SparseTable::PushPart(const uint64_t* keys, const uint32_t* positions, size_t m,
                             const float* grads, int64_t step) {
  PartScratch& s = ThreadPartScratch();
  const int dim = config_.dim;
  s.weights.resize(dim);
  s.state.resize(std::max(layout_.state_floats(), 1));
  if (s.rows.size() < m) s.rows.resize(m);
  s.write_keys.clear();
  MSREC_RETURN_IF_ERROR(store_->MultiGetVisit(
      config_.name, keys, m, /*sorted=*/true,
      [&](size_t u, bool found, std::string_view row) {
        const uint64_t key = keys[u];
        const uint32_t pos = positions[u];
        uint64_t frequency = 0;
        int64_t last_step = 0;
        if (found) {
          MSREC_RETURN_IF_ERROR(layout_.Check(row, config_.name, key));
          layout_.Read(row, s.weights.data(), s.state.data(), &frequency, &last_step);
        } else if (Admit(key)) {
          InitialWeights(key, config_.seed, config_.init_scale, dim, s.weights.data());
          optimizer_->InitState(s.weights.data(), s.state.data(), dim);
        } else {
          return Status::OK();  // sighting counted, no row yet
        }
        optimizer_->Apply(s.weights.data(), s.state.data(), grads + pos * static_cast<size_t>(dim),
                          dim, step);
        layout_.Write(s.weights.data(), s.state.data(), frequency + 1, step,
                      &s.rows[s.write_keys.size()]);
        s.write_keys.push_back(key);
        return Status::OK();
      }));
  if (s.write_keys.empty()) return Status::OK();
  return store_->Write(config_.name, s.write_keys.data(), s.write_keys.size(), s.rows.data());
}

bool SparseTable::Admit(uint64_t key) {
  if (config_.admit_after <= 1) return true;
  auto it = pending_.find(key);
  if (it == pending_.end()) {
    // Full: age every count (halve, forget zeros) until there is room.
    while (pending_.size() >= config_.admission_capacity) {
      for (auto p = pending_.begin(); p != pending_.end();) {
        p->second /= 2;
        p = p->second == 0 ? pending_.erase(p) : std::next(p);
      }
    }
    it = pending_.emplace(key, 0).first;
  }
  if (++it->second < static_cast<uint32_t>(config_.admit_after)) return false;
  pending_.erase(it);
  return true;
}

size_t SparseTable::PendingAdmissions() const {
  std::lock_guard<std::mutex> lock(push_mu_);
  return pending_.size();
}

Result<uint64_t> SparseTable::EvictExpired(int64_t current_step) {
  if (config_.ttl_steps == 0) return uint64_t{0};
  std::lock_guard<std::mutex> lock(push_mu_);
  const int64_t oldest_kept = current_step - config_.ttl_steps;
  std::vector<uint64_t> expired;
  Status row_status;
  MSREC_RETURN_IF_ERROR(store_->ForEach(config_.name, [&](uint64_t key, std::string_view row) {
    row_status = layout_.Check(row, config_.name, key);
    if (!row_status.ok()) return false;
    int64_t last_step = 0;
    layout_.Read(row, nullptr, nullptr, nullptr, &last_step);
    if (last_step < oldest_kept) expired.push_back(key);
    return true;
  }));
  MSREC_RETURN_IF_ERROR(row_status);
  constexpr size_t kDeleteBatch = 65536;
  for (size_t i = 0; i < expired.size(); i += kDeleteBatch) {
    const size_t m = std::min(kDeleteBatch, expired.size() - i);
    MSREC_RETURN_IF_ERROR(store_->Delete(config_.name, expired.data() + i, m));
  }
  return static_cast<uint64_t>(expired.size());
}

SparseShard::SparseShard(std::unique_ptr<EmbeddingStore> store, int apply_threads)
    : store_(std::move(store)), pool_(std::max(1, apply_threads)) {
  CHECK(store_ != nullptr);
}

Status SparseShard::CreateTable(const TableConfig& config) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = tables_.find(config.name);
  if (it != tables_.end()) {
    const TableConfig& have = it->second->config();
    if (have.dim != config.dim || have.optimizer.kind != config.optimizer.kind) {
      return Status::InvalidArgument(
          "table '" + config.name + "' exists with dim " + std::to_string(have.dim) +
          " and optimizer " + SparseOptimizerKindName(have.optimizer.kind) + ", asked for dim " +
          std::to_string(config.dim) + " and " + SparseOptimizerKindName(config.optimizer.kind));
    }
    return Status::OK();
  }
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<SparseTable> table,
                         SparseTable::Create(config, store_.get()));
  table->set_pool(&pool_);
  MSREC_RETURN_IF_ERROR(store_->CreateTable(config.name));
  // Rows already in the store (a reopened database, a loaded dump) must match.
  Status row_status;
  MSREC_RETURN_IF_ERROR(store_->ForEach(config.name, [&](uint64_t key, std::string_view row) {
    row_status = table->layout().Check(row, config.name, key);
    return false;
  }));
  if (!row_status.ok()) {
    return Status::InvalidArgument("the store's rows do not match the table config: " +
                                   row_status.message());
  }
  tables_[config.name] = std::move(table);
  return Status::OK();
}

Result<SparseTable*> SparseShard::Find(const std::string& table) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = tables_.find(table);
  if (it == tables_.end()) return Status::NotFound("no table '" + table + "' (CreateTable first)");
  return it->second.get();
}

Status SparseShard::Pull(const std::string& table, const uint64_t* keys, size_t n,
                         float* weights) const {
  MSREC_ASSIGN_OR_RETURN(SparseTable * t, Find(table));
  return t->Pull(keys, n, weights);
}

Status SparseShard::Prefetch(const std::string& table, const uint64_t* keys, size_t n) const {
  MSREC_RETURN_IF_ERROR(Find(table).status());
  Scratch& s = ThreadScratch();
  SortKeys(keys, n, &s);
  return store_->Prefetch(table, s.unique_keys.data(), s.unique_keys.size(), /*sorted=*/true);
}

Status SparseShard::Push(const std::string& table, const uint64_t* keys, size_t n,
                         const float* grads, int64_t step) {
  MSREC_ASSIGN_OR_RETURN(SparseTable * t, Find(table));
  return t->Push(keys, n, grads, step);
}

Status SparseShard::DropTable(const std::string& table) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = tables_.find(table);
  if (it == tables_.end()) return Status::NotFound("no table '" + table + "' to drop");
  tables_.erase(it);
  return store_->DropTable(table);
}

Status SparseShard::Flush() { return store_->Flush(); }

Status SparseShard::Close() { return store_->Close(); }

Result<uint64_t> SparseShard::EvictExpired(int64_t current_step) {
  std::vector<SparseTable*> tables;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (const auto& [name, table] : tables_) tables.push_back(table.get());
  }
  uint64_t total = 0;
  for (SparseTable* table : tables) {
    MSREC_ASSIGN_OR_RETURN(const uint64_t evicted, table->EvictExpired(current_step));
    total += evicted;
  }
  return total;
}

}  // namespace msrec
