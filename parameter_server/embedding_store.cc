// ValidateTableName, SaveStore and LoadStore (the dump file format is described
// in embedding_store.h).
#include "parameter_server/embedding_store.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "common/hash.h"

namespace msrec {

Status ClearStore(EmbeddingStore* store) {
  for (const std::string& table : store->TableNames()) {
    MSREC_RETURN_IF_ERROR(store->DropTable(table));
    MSREC_RETURN_IF_ERROR(store->CreateTable(table));
  }
  return Status::OK();
}

namespace {

// EmbeddingStore's default BulkWriter: Write in batches.
class BatchedBulkWriter : public BulkWriter {
 public:
  BatchedBulkWriter(EmbeddingStore* store, std::string table)
      : store_(store), table_(std::move(table)) {}

  Status Add(uint64_t key, std::string_view row) override {
    MSREC_RETURN_IF_ERROR(CheckBulkKeyOrder(table_, any_, last_, key));
    any_ = true;
    last_ = key;
    keys_.push_back(key);
    rows_.emplace_back(row);
    if (keys_.size() >= kBatchRows) return WriteBatch();
    return Status::OK();
  }

  Status Finish() override { return WriteBatch(); }

 private:
  static constexpr size_t kBatchRows = 65536;

  Status WriteBatch() {
    if (keys_.empty()) return Status::OK();
    MSREC_RETURN_IF_ERROR(store_->Write(table_, keys_.data(), keys_.size(), rows_.data()));
    keys_.clear();
    rows_.clear();
    return Status::OK();
  }

  EmbeddingStore* store_;
  const std::string table_;
  bool any_ = false;
  uint64_t last_ = 0;
  std::vector<uint64_t> keys_;
  std::vector<std::string> rows_;
};

}  // namespace

Status CheckBulkKeyOrder(const std::string& table, bool any, uint64_t last, uint64_t key) {
  if (!any || key > last) return Status::OK();
  return Status::InvalidArgument("bulk load of table '" + table + "': key " +
                                 std::to_string(key) + " after " + std::to_string(last) +
                                 " (keys must be strictly ascending)");
}

Result<std::unique_ptr<BulkWriter>> EmbeddingStore::NewBulkWriter(const std::string& table) {
  const std::vector<std::string> names = TableNames();
  if (std::find(names.begin(), names.end(), table) == names.end()) {
    return Status::NotFound("bulk load: no table '" + table + "'");
  }
  return std::unique_ptr<BulkWriter>(std::make_unique<BatchedBulkWriter>(this, table));
}

std::string EmbeddingStore::StatsText() const {
  Result<uint64_t> bytes = MemoryUsageBytes();
  return "store memory " + (bytes.ok() ? std::to_string(bytes.value() >> 20) + " MiB" : "?");
}
namespace {

constexpr char kMagic[8] = {'M', 'S', 'R', 'E', 'C', 'E', 'M', 'B'};
constexpr uint32_t kFileVersion = 1;
constexpr size_t kLoadBatchRows = 4096;
constexpr uint32_t kMaxNameBytes = 4096;

std::string ErrnoText() { return std::strerror(errno); }

// Buffered writer that keeps the CRC-32C of everything written.
class DumpWriter {
 public:
  explicit DumpWriter(std::string path) : path_(std::move(path)) {}
  ~DumpWriter() {
    if (file_ != nullptr) std::fclose(file_);
  }

  Status Open() {
    file_ = std::fopen(path_.c_str(), "wb");
    if (file_ == nullptr) return Status::IoError("cannot create " + path_ + ": " + ErrnoText());
    return Status::OK();
  }
  Status Append(const void* data, size_t len) {
    crc_ = Crc32c(data, len, crc_);
    if (std::fwrite(data, 1, len, file_) != len) {
      return Status::IoError("cannot write " + path_ + ": " + ErrnoText());
    }
    return Status::OK();
  }
  template <typename T>
  Status AppendPod(T value) {
    return Append(&value, sizeof(value));
  }
  // Appends the CRC and closes the file.
  Status Finish() {
    const uint32_t crc = crc_;
    MSREC_RETURN_IF_ERROR(Append(&crc, sizeof(crc)));
    const bool flushed = std::fflush(file_) == 0;
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!flushed || !closed) return Status::IoError("cannot write " + path_ + ": " + ErrnoText());
    return Status::OK();
  }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  uint32_t crc_ = 0;
};

// Reader over a file whose CRC has already been checked; `limit` is the size
// without the CRC trailer, and reading past it is Corruption.
class DumpReader {
 public:
  DumpReader(std::string path, std::FILE* file, uint64_t limit)
      : path_(std::move(path)), file_(file), left_(limit) {}

  Status Read(void* data, size_t len) {
    if (len > left_) return Status::Corruption(path_ + ": truncated store dump");
    if (std::fread(data, 1, len, file_) != len) {
      return Status::IoError("cannot read " + path_ + ": " + ErrnoText());
    }
    left_ -= len;
    return Status::OK();
  }
  template <typename T>
  Status ReadPod(T* value) {
    return Read(value, sizeof(*value));
  }
  uint64_t left() const { return left_; }

 private:
  std::string path_;
  std::FILE* file_;
  uint64_t left_;
};

Status SaveTable(const EmbeddingStore& store, const std::string& table, DumpWriter* w) {
  MSREC_ASSIGN_OR_RETURN(uint64_t count, store.Count(table));
  MSREC_RETURN_IF_ERROR(w->AppendPod(static_cast<uint32_t>(table.size())));
  MSREC_RETURN_IF_ERROR(w->Append(table.data(), table.size()));
  MSREC_RETURN_IF_ERROR(w->AppendPod(count));
  Status write_status;
  uint64_t written = 0;
  MSREC_RETURN_IF_ERROR(store.ForEach(table, [&](uint64_t key, std::string_view row) {
    if (written == count) {
      write_status = Status::Internal("table '" + table + "' grew while it was being saved");
      return false;
    }
    write_status = w->AppendPod(key);
    if (write_status.ok()) write_status = w->AppendPod(static_cast<uint32_t>(row.size()));
    if (write_status.ok()) write_status = w->Append(row.data(), row.size());
    ++written;
    return write_status.ok();
  }));
  MSREC_RETURN_IF_ERROR(write_status);
  if (written != count) {
    return Status::Internal("table '" + table + "' shrank while it was being saved");
  }
  return Status::OK();
}

// Pass 1 of LoadStore: checks size, magic and CRC without parsing.
Status CheckDumpFile(const std::string& path, std::FILE* file, uint64_t* payload_bytes) {
  if (std::fseek(file, 0, SEEK_END) != 0) return Status::IoError("cannot seek " + path);
  const long size = std::ftell(file);
  if (size < 0) return Status::IoError("cannot seek " + path + ": " + ErrnoText());
  std::rewind(file);
  if (static_cast<uint64_t>(size) < sizeof(kMagic) + 8 + 4) {
    return Status::Corruption(path + ": " + std::to_string(size) +
                              " bytes is too short for a store dump");
  }
  *payload_bytes = static_cast<uint64_t>(size) - 4;
  std::vector<char> buffer(1 << 20);
  uint64_t left = *payload_bytes;
  uint32_t crc = 0;
  bool first = true;
  while (left > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(left, buffer.size()));
    if (std::fread(buffer.data(), 1, chunk, file) != chunk) {
      return Status::IoError("cannot read " + path + ": " + ErrnoText());
    }
    if (first && std::memcmp(buffer.data(), kMagic, sizeof(kMagic)) != 0) {
      return Status::Corruption(path + ": not a store dump (bad magic)");
    }
    first = false;
    crc = Crc32c(buffer.data(), chunk, crc);
    left -= chunk;
  }
  uint32_t stored = 0;
  if (std::fread(&stored, 1, 4, file) != 4) {
    return Status::IoError("cannot read " + path + ": " + ErrnoText());
  }
  if (stored != crc) return Status::Corruption(path + ": CRC mismatch, the store dump is damaged");
  std::rewind(file);
  return Status::OK();
}

Status LoadTable(const std::string& path, DumpReader* r, EmbeddingStore* store) {
  uint32_t name_len = 0;
  MSREC_RETURN_IF_ERROR(r->ReadPod(&name_len));
  if (name_len > kMaxNameBytes) return Status::Corruption(path + ": bad table name length");
  std::string table(name_len, '\0');
  MSREC_RETURN_IF_ERROR(r->Read(table.data(), name_len));
  uint64_t count = 0;
  MSREC_RETURN_IF_ERROR(r->ReadPod(&count));
  MSREC_RETURN_IF_ERROR(store->CreateTable(table).WithContext("loading " + path));
  std::vector<uint64_t> keys;
  std::vector<std::string> rows(kLoadBatchRows);
  for (uint64_t done = 0; done < count;) {
    const size_t batch = static_cast<size_t>(std::min<uint64_t>(count - done, kLoadBatchRows));
    keys.resize(batch);
    for (size_t i = 0; i < batch; ++i) {
      uint32_t len = 0;
      MSREC_RETURN_IF_ERROR(r->ReadPod(&keys[i]));
      MSREC_RETURN_IF_ERROR(r->ReadPod(&len));
      if (len > r->left()) return Status::Corruption(path + ": truncated store dump");
      rows[i].resize(len);
      MSREC_RETURN_IF_ERROR(r->Read(rows[i].data(), len));
    }
    MSREC_RETURN_IF_ERROR(
        store->Write(table, keys.data(), batch, rows.data()).WithContext("loading " + path));
    done += batch;
  }
  return Status::OK();
}

}  // namespace

Status ValidateTableName(const std::string& table) {
  if (table.empty()) return Status::InvalidArgument("empty table name");
  if (table == "default") {
    return Status::InvalidArgument(
        "table name 'default' is reserved (RocksDB default column family)");
  }
  return Status::OK();
}

Status EmbeddingStore::MultiGet(const std::string& table, const uint64_t* keys, size_t n,
                                bool sorted, std::vector<std::string>* rows,
                                std::vector<uint8_t>* found) const {
  rows->resize(n);
  found->resize(n);
  return MultiGetVisit(table, keys, n, sorted, [&](size_t i, bool has_row, std::string_view row) {
    (*found)[i] = has_row ? 1 : 0;
    if (has_row) (*rows)[i].assign(row.data(), row.size());
    return Status::OK();
  });
}

namespace {
Status WriteDump(const EmbeddingStore& store, const std::string& path, const std::string& tmp) {
  DumpWriter w(tmp);
  MSREC_RETURN_IF_ERROR(w.Open());
  const std::vector<std::string> tables = store.TableNames();
  MSREC_RETURN_IF_ERROR(w.Append(kMagic, sizeof(kMagic)));
  MSREC_RETURN_IF_ERROR(w.AppendPod(kFileVersion));
  MSREC_RETURN_IF_ERROR(w.AppendPod(static_cast<uint32_t>(tables.size())));
  for (const std::string& table : tables) {
    MSREC_RETURN_IF_ERROR(SaveTable(store, table, &w).WithContext("saving " + path));
  }
  return w.Finish();
}
}  // namespace

Status SaveStore(const EmbeddingStore& store, const std::string& path) {
  const std::string tmp = path + ".tmp";
  const Status written = WriteDump(store, path, tmp);
  if (!written.ok()) {
    std::remove(tmp.c_str());  // a failed dump (a full disk) leaves nothing behind
    return written;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IoError("cannot rename " + tmp + " to " + path + ": " + ErrnoText());
  }
  return Status::OK();
}

Status LoadStore(const std::string& path, EmbeddingStore* store) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return Status::IoError("cannot open " + path + ": " + ErrnoText());
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(file, &std::fclose);
  uint64_t payload = 0;
  MSREC_RETURN_IF_ERROR(CheckDumpFile(path, file, &payload));
  DumpReader r(path, file, payload);
  char magic[sizeof(kMagic)];
  uint32_t version = 0;
  uint32_t tables = 0;
  MSREC_RETURN_IF_ERROR(r.Read(magic, sizeof(magic)));
  MSREC_RETURN_IF_ERROR(r.ReadPod(&version));
  if (version != kFileVersion) {
    return Status::Corruption(path + ": store dump version " + std::to_string(version) +
                              ", expected " + std::to_string(kFileVersion));
  }
  MSREC_RETURN_IF_ERROR(r.ReadPod(&tables));
  for (uint32_t t = 0; t < tables; ++t) MSREC_RETURN_IF_ERROR(LoadTable(path, &r, store));
  if (r.left() != 0) return Status::Corruption(path + ": trailing bytes after the last table");
  return Status::OK();
}

}  // namespace msrec
