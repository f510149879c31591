#include "parameter_server/rocksdb_store.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

namespace msrec {
namespace {

constexpr size_t kKeyBytes = 8;

void EncodeKey(uint64_t key, char* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(key & 0xFF);
    key >>= 8;
  }
}

uint64_t DecodeKey(const char* p) {
  uint64_t key = 0;
  for (int i = 0; i < 8; ++i) key = (key << 8) | static_cast<uint8_t>(p[i]);
  return key;
}

Status FromRocks(const rocksdb::Status& s, const std::string& context) {
  const std::string msg = context + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsIOError()) return Status::IoError(msg);
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  if (s.IsTimedOut()) return Status::Timeout(msg);
  if (s.IsBusy() || s.IsTryAgain()) return Status::Unavailable(msg);
  return Status::Internal(msg);
}

rocksdb::ColumnFamilyOptions MakeCfOptions(const RocksDbStoreOptions& o,
                                           const std::shared_ptr<rocksdb::Cache>& cache) {
  // Each setting's reason: docs/parameter_server.md, "RocksDB settings".
  rocksdb::ColumnFamilyOptions cf;
  cf.compression = rocksdb::kNoCompression;  // float rows barely compress
  cf.bottommost_compression = rocksdb::kNoCompression;
  cf.write_buffer_size = o.write_buffer_bytes;
  cf.max_write_buffer_number = o.max_write_buffer_number;
  cf.level_compaction_dynamic_level_bytes = true;
  if (o.universal_compaction) {
    cf.compaction_style = rocksdb::kCompactionStyleUniversal;
    cf.level_compaction_dynamic_level_bytes = false;
    cf.level0_file_num_compaction_trigger = o.universal_sorted_runs;
    cf.level0_slowdown_writes_trigger =
        std::max(cf.level0_slowdown_writes_trigger, 2 * o.universal_sorted_runs + 4);
    cf.level0_stop_writes_trigger =
        std::max(cf.level0_stop_writes_trigger, 3 * o.universal_sorted_runs + 8);
  }
  if (o.memtable_bloom) {
    // A whole-key bloom filter in the memtable: lookups of absent keys skip the
    // skip-list search (no prefix extractor, so it is whole-key only).
    cf.memtable_whole_key_filtering = true;
    cf.memtable_prefix_bloom_size_ratio = 0.02;
  }
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.block_size = o.block_size;
  // A hash index inside each data block: a point lookup finds its key in the
  // block without a binary search over restart points.
  t.data_block_index_type = rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
  t.data_block_hash_table_util_ratio = 0.75;
  if (o.bloom_bits_per_key > 0) {
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(o.bloom_bits_per_key));
  }
  t.cache_index_and_filter_blocks = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  if (o.pin_index_filters) {
    t.metadata_cache_options.unpartitioned_pinning = rocksdb::PinningTier::kAll;
  }
  if (o.partitioned_index_filters) {
    t.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
    t.partition_filters = o.bloom_bits_per_key > 0;
    t.metadata_block_size = 4096;
    t.pin_top_level_index_and_filter = true;
    t.cache_index_and_filter_blocks_with_high_priority = true;
  }
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return cf;
}

// BulkWriter of a RocksDB table: the rows go into SST files beside the
// database (a new file every kBulkFileBytes), ingested together at Finish,
// so they pass through no memtable and are never compacted on the way in.
class SstBulkWriter : public BulkWriter {
 public:
  SstBulkWriter(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, rocksdb::Options options,
                std::string file_prefix, std::string table, std::string where)
      : db_(db),
        cf_(cf),
        options_(std::move(options)),
        file_prefix_(std::move(file_prefix)),
        table_(std::move(table)),
        where_(std::move(where)) {}

  ~SstBulkWriter() override {
    CloseFile().ok();
    RemoveFiles();
  }

  Status Add(uint64_t key, std::string_view row) override {
    MSREC_RETURN_IF_ERROR(CheckBulkKeyOrder(table_, any_, last_, key));
    any_ = true;
    last_ = key;
    if (writer_ == nullptr || writer_->FileSize() >= kBulkFileBytes) {
      MSREC_RETURN_IF_ERROR(CloseFile());
      files_.push_back(file_prefix_ + std::to_string(files_.size()) + ".sst");
      writer_ = std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(), options_, cf_);
      rocksdb::Status s = writer_->Open(files_.back());
      if (!s.ok()) return FromRocks(s, where_ + ": creating " + files_.back());
    }
    char key_bytes[kKeyBytes];
    EncodeKey(key, key_bytes);
    rocksdb::Status s =
        writer_->Put(rocksdb::Slice(key_bytes, kKeyBytes), rocksdb::Slice(row.data(), row.size()));
    if (!s.ok()) return FromRocks(s, where_ + ": adding key " + std::to_string(key));
    return Status::OK();
  }

  Status Finish() override {
    MSREC_RETURN_IF_ERROR(CloseFile());
    if (files_.empty()) return Status::OK();
    rocksdb::IngestExternalFileOptions o;
    o.move_files = true;  // hard links: the rows are not copied again
    rocksdb::Status s = db_->IngestExternalFile(cf_, files_, o);
    RemoveFiles();
    if (!s.ok()) return FromRocks(s, where_ + ": ingesting the bulk-loaded rows");
    return Status::OK();
  }

 private:
  static constexpr uint64_t kBulkFileBytes = uint64_t{256} << 20;

  Status CloseFile() {
    if (writer_ == nullptr) return Status::OK();
    rocksdb::Status s = writer_->Finish();
    writer_.reset();
    if (!s.ok()) return FromRocks(s, where_ + ": finishing " + files_.back());
    return Status::OK();
  }

  void RemoveFiles() {
    for (const std::string& f : files_) std::remove(f.c_str());
    files_.clear();
  }

  rocksdb::DB* const db_;
  rocksdb::ColumnFamilyHandle* const cf_;
  const rocksdb::Options options_;
  const std::string file_prefix_;
  const std::string table_;
  const std::string where_;
  std::unique_ptr<rocksdb::SstFileWriter> writer_;
  std::vector<std::string> files_;  // written, not yet ingested
  bool any_ = false;
  uint64_t last_ = 0;
};

class RocksDbStore : public EmbeddingStore {
 public:
  RocksDbStore(std::string path, const RocksDbStoreOptions& options)
      : path_(std::move(path)), options_(options) {
    write_options_.disableWAL = !options.enable_wal;
    point_read_options_.fill_cache = options.cache_data_blocks;
    point_read_options_.verify_checksums = options.verify_read_checksums;
  }

  ~RocksDbStore() override {
    if (db_ == nullptr) return;
    Status s = options_.read_only ? Status::OK() : Flush();
    if (!s.ok()) LOG(ERROR) << "closing RocksDB store: " << s.ToString();
    for (auto& [name, handle] : handles_) db_->DestroyColumnFamilyHandle(handle);
    if (default_handle_ != nullptr) db_->DestroyColumnFamilyHandle(default_handle_);
    rocksdb::Status cs = db_->Close();
    if (!cs.ok()) LOG(ERROR) << "closing RocksDB at " << path_ << ": " << cs.ToString();
    delete db_;
  }

  Status Open() {
    rocksdb::LRUCacheOptions cache_options;
    cache_options.capacity = options_.block_cache_bytes;
    // Index and filter partitions (high priority) may hold up to half the
    // cache; data blocks cannot push them out of that half.
    cache_options.high_pri_pool_ratio = options_.partitioned_index_filters ? 0.5 : 0.0;
    cache_ = rocksdb::NewLRUCache(cache_options);
    cf_options_ = MakeCfOptions(options_, cache_);
    rocksdb::DBOptions db_options;
    if (options_.statistics) {
      statistics_ = rocksdb::CreateDBStatistics();
      statistics_->set_stats_level(rocksdb::StatsLevel::kExceptTimers);
      db_options.statistics = statistics_;
    }
    db_options.create_if_missing = options_.create_if_missing;
    db_options.create_missing_column_families = true;
    db_options.max_background_jobs = options_.max_background_jobs;
    if (options_.low_priority_compaction) {
      // Process-wide: the default Env's LOW pool runs every database's compactions.
      rocksdb::Status s = db_options.env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW,
                                                                     rocksdb::CpuPriority::kIdle);
      if (!s.ok()) LOG(WARNING) << "lowering the compaction threads' priority: " << s.ToString();
    }
    db_options.bytes_per_sync = 1 << 20;
    db_options.allow_mmap_reads = options_.mmap_reads;
    if (options_.compaction_readahead_bytes > 0) {
      db_options.compaction_readahead_size = options_.compaction_readahead_bytes;
    }

    std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName};
    if (db_options.env->FileExists(path_ + "/CURRENT").ok()) {
      names.clear();
      rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, path_, &names);
      if (!s.ok()) return FromRocks(s, "listing the tables of RocksDB at " + path_);
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : names) descriptors.emplace_back(name, cf_options_);
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::Status s =
        options_.read_only
            ? rocksdb::DB::OpenForReadOnly(db_options, path_, descriptors, &handles, &db_)
            : rocksdb::DB::Open(db_options, path_, descriptors, &handles, &db_);
    if (!s.ok()) return FromRocks(s, "opening RocksDB at " + path_);
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == rocksdb::kDefaultColumnFamilyName) {
        default_handle_ = handles[i];
      } else {
        handles_[names[i]] = handles[i];
      }
    }
    return Status::OK();
  }

  Status CreateTable(const std::string& table) override {
    MSREC_RETURN_IF_ERROR(ValidateTableName(table));
    std::unique_lock<std::shared_mutex> lock(mu_);
    if (handles_.count(table) != 0) return Status::OK();
    rocksdb::ColumnFamilyHandle* handle = nullptr;
    rocksdb::Status s = db_->CreateColumnFamily(cf_options_, table, &handle);
    if (!s.ok()) return FromRocks(s, Where(table) + ": creating the column family");
    handles_[table] = handle;
    return Status::OK();
  }

  Status DropTable(const std::string& table) override {
    std::unique_lock<std::shared_mutex> lock(mu_);
    auto it = handles_.find(table);
    if (it == handles_.end()) return Status::NotFound(Where(table) + ": no such table");
    // The column family's SST files are deleted once no reader holds them.
    rocksdb::Status s = db_->DropColumnFamily(it->second);
    if (!s.ok()) return FromRocks(s, Where(table) + ": dropping the column family");
    s = db_->DestroyColumnFamilyHandle(it->second);
    handles_.erase(it);
    if (!s.ok()) return FromRocks(s, Where(table) + ": releasing the column family");
    return Status::OK();
  }

  Result<std::unique_ptr<BulkWriter>> NewBulkWriter(const std::string& table) override {
    MSREC_ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle * cf, Find(table));
    // Not a name RocksDB parses as its own file, so it never deletes one.
    const std::string prefix = path_ + "/bulk-" + std::to_string(bulk_loads_.fetch_add(1)) + "-";
    return std::unique_ptr<BulkWriter>(std::make_unique<SstBulkWriter>(
        db_, cf, rocksdb::Options(rocksdb::DBOptions(), cf_options_), prefix, table, Where(table)));
  }

  std::vector<std::string> TableNames() const override {
    std::shared_lock<std::shared_mutex> lock(mu_);
    std::vector<std::string> names;
    for (const auto& [name, handle] : handles_) names.push_back(name);
    return names;
  }

  Status MultiGetVisit(const std::string& table, const uint64_t* keys, size_t n, bool sorted,
                       const RowVisitor& fn) const override {
    MSREC_ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle * cf, Find(table));
    if (n == 0) return Status::OK();
    std::vector<char> key_bytes(n * kKeyBytes);
    std::vector<rocksdb::Slice> slices(n);
    for (size_t i = 0; i < n; ++i) {
      EncodeKey(keys[i], &key_bytes[i * kKeyBytes]);
      slices[i] = rocksdb::Slice(&key_bytes[i * kKeyBytes], kKeyBytes);
    }
    std::vector<rocksdb::PinnableSlice> values(n);
    std::vector<rocksdb::Status> statuses(n);
    db_->MultiGet(point_read_options_, cf, n, slices.data(), values.data(), statuses.data(),
                  sorted);
    for (size_t i = 0; i < n; ++i) {
      Status s;
      if (statuses[i].ok()) {
        s = fn(i, true, std::string_view(values[i].data(), values[i].size()));
      } else if (statuses[i].IsNotFound()) {
        s = fn(i, false, std::string_view());
      } else {
        return FromRocks(statuses[i], Where(table) + ": reading key " + std::to_string(keys[i]));
      }
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

  Status Write(const std::string& table, const uint64_t* keys, size_t n,
               const std::string* rows) override {
    MSREC_ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle * cf, Find(table));
    // The rows go into the batch in key order (stable, so a key written twice
    // keeps its last row): the memtable's skip list then inserts each key next
    // to the previous one, reusing its search path, instead of searching from
    // the top for every random key (write-backs arrive in eviction order).
    std::vector<uint32_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
    if (!std::is_sorted(keys, keys + n)) {
      std::stable_sort(order.begin(), order.end(),
                       [keys](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
    }
    rocksdb::WriteBatch batch;
    char key_bytes[kKeyBytes];
    for (const uint32_t i : order) {
      EncodeKey(keys[i], key_bytes);
      rocksdb::Status s = batch.Put(cf, rocksdb::Slice(key_bytes, kKeyBytes), rows[i]);
      if (!s.ok()) return FromRocks(s, Where(table) + ": batching key " + std::to_string(keys[i]));
    }
    rocksdb::Status s = db_->Write(write_options_, &batch);
    if (!s.ok()) return FromRocks(s, Where(table) + ": writing " + std::to_string(n) + " rows");
    return Status::OK();
  }

  Status Delete(const std::string& table, const uint64_t* keys, size_t n) override {
    MSREC_ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle * cf, Find(table));
    rocksdb::WriteBatch batch;
    char key_bytes[kKeyBytes];
    for (size_t i = 0; i < n; ++i) {
      EncodeKey(keys[i], key_bytes);
      rocksdb::Status s = batch.Delete(cf, rocksdb::Slice(key_bytes, kKeyBytes));
      if (!s.ok())
        return FromRocks(s, Where(table) + ": batching delete of " + std::to_string(keys[i]));
    }
    rocksdb::Status s = db_->Write(write_options_, &batch);
    if (!s.ok()) return FromRocks(s, Where(table) + ": deleting " + std::to_string(n) + " rows");
    return Status::OK();
  }

  Status Flush() override {
    std::vector<rocksdb::ColumnFamilyHandle*> all;
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      for (const auto& [name, handle] : handles_) all.push_back(handle);
    }
    if (all.empty()) return Status::OK();
    rocksdb::Status s = db_->Flush(rocksdb::FlushOptions(), all);
    if (!s.ok()) return FromRocks(s, "flushing RocksDB at " + path_);
    return Status::OK();
  }

  Status CheckpointTo(const std::string& dir) override {
    MSREC_RETURN_IF_ERROR(Flush());
    rocksdb::Checkpoint* checkpoint = nullptr;
    rocksdb::Status s = rocksdb::Checkpoint::Create(db_, &checkpoint);
    if (s.ok()) s = checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0);
    delete checkpoint;
    if (!s.ok()) return FromRocks(s, "checkpoint of RocksDB at " + path_ + " into " + dir);
    return Status::OK();
  }

  Status ForEach(const std::string& table,
                 const std::function<bool(uint64_t, std::string_view)>& fn) const override {
    MSREC_ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle * cf, Find(table));
    rocksdb::ReadOptions read_options;
    read_options.fill_cache = false;  // a dump must not evict the hot rows
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, cf));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::Slice key = it->key();
      if (key.size() != kKeyBytes) {
        return Status::Corruption(Where(table) + ": key of " + std::to_string(key.size()) +
                                  " bytes, expected 8");
      }
      const rocksdb::Slice value = it->value();
      if (!fn(DecodeKey(key.data()), std::string_view(value.data(), value.size()))) break;
    }
    if (!it->status().ok()) return FromRocks(it->status(), Where(table) + ": scanning");
    return Status::OK();
  }

  Result<uint64_t> Count(const std::string& table) const override {
    uint64_t count = 0;
    MSREC_RETURN_IF_ERROR(ForEach(table, [&](uint64_t, std::string_view) {
      ++count;
      return true;
    }));
    return count;
  }

  std::string StatsText() const override {
    uint64_t memtables = 0, readers = 0;
    db_->GetAggregatedIntProperty("rocksdb.cur-size-all-mem-tables", &memtables);
    db_->GetAggregatedIntProperty("rocksdb.estimate-table-readers-mem", &readers);
    uint64_t keys = 0;  // RocksDB's estimate: overwrites and deletes not yet compacted count
    db_->GetAggregatedIntProperty("rocksdb.estimate-num-keys", &keys);
    return "block cache " + std::to_string(cache_->GetUsage() >> 20) + " MiB of " +
           std::to_string(options_.block_cache_bytes >> 20) + ", memtables " +
           std::to_string(memtables >> 20) + " MiB, table readers " +
           std::to_string(readers >> 20) + " MiB, ~" + std::to_string(keys) + " rows on disk" +
           ReadStatsText();
  }

  CompactionDebt Debt() const {
    CompactionDebt debt;
    db_->GetAggregatedIntProperty("rocksdb.estimate-pending-compaction-bytes", &debt.pending_bytes);
    db_->GetAggregatedIntProperty("rocksdb.compaction-pending", &debt.tables_pending);
    db_->GetIntProperty("rocksdb.num-running-compactions", &debt.running);
    return debt;
  }

  Result<uint64_t> MemoryUsageBytes() const override {
    // Index and filter blocks live in the block cache (cache_index_and_filter_
    // blocks), so table-readers memory does not count them twice.
    uint64_t total = cache_->GetUsage();
    for (const char* property :
         {"rocksdb.cur-size-all-mem-tables", "rocksdb.estimate-table-readers-mem"}) {
      uint64_t value = 0;
      if (!db_->GetAggregatedIntProperty(property, &value)) {
        return Status::Internal("RocksDB at " + path_ + ": cannot read property " + property);
      }
      total += value;
    }
    return total;
  }

 private:
  // Where the reads went since the store opened: keys read, then per kind of
  // block the block-cache hits of all lookups (a miss reads the block from a
  // file, usually the OS page cache), and the lookups the bloom filters
  // answered without a data block.
  std::string ReadStatsText() const {
    if (statistics_ == nullptr) return "";
    auto t = [&](rocksdb::Tickers ticker) { return statistics_->getTickerCount(ticker); };
    auto hits = [&](const char* name, uint64_t hit, uint64_t miss) {
      char text[96];
      std::snprintf(text, sizeof(text), ", %s %.2f of %llu", name,
                    hit + miss > 0 ? double(hit) / double(hit + miss) : 0.0,
                    static_cast<unsigned long long>(hit + miss));
      return std::string(text);
    };
    const uint64_t keys = t(rocksdb::NUMBER_MULTIGET_KEYS_READ) + t(rocksdb::NUMBER_KEYS_READ);
    return "; RocksDB reads: " + std::to_string(keys) + " keys, block-cache hits:" +
           hits("data", t(rocksdb::BLOCK_CACHE_DATA_HIT), t(rocksdb::BLOCK_CACHE_DATA_MISS)) +
           hits("index", t(rocksdb::BLOCK_CACHE_INDEX_HIT), t(rocksdb::BLOCK_CACHE_INDEX_MISS)) +
           hits("filter", t(rocksdb::BLOCK_CACHE_FILTER_HIT), t(rocksdb::BLOCK_CACHE_FILTER_MISS)) +
           ", bloom skips " + std::to_string(t(rocksdb::BLOOM_FILTER_USEFUL)) + ", memtable hits " +
           std::to_string(t(rocksdb::MEMTABLE_HIT)) + WriteStatsText();
  }

  // Where the writes went: bytes written by the store's callers, by memtable
  // flushes and by compactions (their sum over the first is the write
  // amplification), and the time writers were delayed or stopped by RocksDB's
  // write controller (too many memtables, L0 files or pending compaction bytes).
  std::string WriteStatsText() const {
    auto t = [&](rocksdb::Tickers ticker) { return statistics_->getTickerCount(ticker); };
    const double gb = 1e9;
    const CompactionDebt debt = Debt();
    char text[260];
    std::snprintf(
        text, sizeof(text),
        "; RocksDB writes: %.2f GB put, %.2f GB flushed, %.2f GB compacted, "
        "write stalls %.1f s, compaction pending %.2f GB (%llu table(s) wanting one, %llu running)",
        double(t(rocksdb::BYTES_WRITTEN)) / gb, double(t(rocksdb::FLUSH_WRITE_BYTES)) / gb,
        double(t(rocksdb::COMPACT_WRITE_BYTES)) / gb, double(t(rocksdb::STALL_MICROS)) / 1e6,
        double(debt.pending_bytes) / gb, static_cast<unsigned long long>(debt.tables_pending),
        static_cast<unsigned long long>(debt.running));
    return text;
  }

  std::string Where(const std::string& table) const {
    return "RocksDB at " + path_ + ", table '" + table + "'";
  }

  Result<rocksdb::ColumnFamilyHandle*> Find(const std::string& table) const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = handles_.find(table);
    if (it == handles_.end()) return Status::NotFound(Where(table) + ": no such table");
    return it->second;  // handles live until DropTable or the store's destruction
  }

  const std::string path_;
  const RocksDbStoreOptions options_;
  rocksdb::WriteOptions write_options_;
  rocksdb::ReadOptions point_read_options_;  // MultiGet: fill_cache = cache_data_blocks
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::Statistics> statistics_;  // null without options_.statistics
  rocksdb::ColumnFamilyOptions cf_options_;
  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* default_handle_ = nullptr;
  mutable std::shared_mutex mu_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> handles_;  // guarded by mu_
  std::atomic<uint64_t> bulk_loads_{0};                          // names the bulk writers' files
};

}  // namespace

Result<std::unique_ptr<EmbeddingStore>> OpenRocksDbStore(const std::string& path,
                                                         const RocksDbStoreOptions& options) {
  if (options.universal_sorted_runs < 2) {
    return Status::InvalidArgument("RocksDB store " + path +
                                   ": universal_sorted_runs must be >= 2, not " +
                                   std::to_string(options.universal_sorted_runs));
  }
  auto store = std::make_unique<RocksDbStore>(path, options);
  MSREC_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<EmbeddingStore>(std::move(store));
}

Result<CompactionDebt> RocksDbCompactionDebt(const EmbeddingStore& store) {
  const auto* rocks = dynamic_cast<const RocksDbStore*>(&store);
  if (rocks == nullptr) return Status::InvalidArgument("not a RocksDB store");
  return rocks->Debt();
}

}  // namespace msrec
