#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/bounded_queue.h"
#include "common/hash.h"
#include "trainer/data/internal/rebatch.h"
#include "trainer/data/internal/shard_format.h"
#include "trainer/data/shard.h"

namespace msrec {
namespace {

using internal::BlockHeader;
using internal::kBlockHeaderBytes;

// An open shard file positioned after its header.
class ShardFile {
 public:
  ~ShardFile() {
    if (fd_ >= 0) ::close(fd_);
  }

  static Result<std::unique_ptr<ShardFile>> Open(const std::string& path) {
    std::unique_ptr<ShardFile> f(new ShardFile);
    f->path_ = path;
    f->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f->fd_ < 0) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
    struct stat st;
    if (::fstat(f->fd_, &st) != 0) return Status::IoError("stat " + path);
    f->size_ = static_cast<uint64_t>(st.st_size);
    char fixed[internal::kFileHeaderFixed];
    MSREC_ASSIGN_OR_RETURN(size_t got, f->ReadAt(fixed, sizeof(fixed)));
    if (got < sizeof(fixed) || std::memcmp(fixed, internal::kShardMagic, 8) != 0) {
      return Status::Corruption(path + ": not a shard file (bad magic)");
    }
    uint32_t version, body_len;
    std::memcpy(&version, fixed + 8, 4);
    std::memcpy(&body_len, fixed + 12, 4);
    if (body_len + sizeof(fixed) + 4 > f->size_) {
      return Status::Corruption(path + ": file header truncated");
    }
    std::string header(fixed, sizeof(fixed));
    header.resize(sizeof(fixed) + body_len + 4);
    MSREC_ASSIGN_OR_RETURN(got, f->ReadAt(header.data() + sizeof(fixed), body_len + 4));
    uint32_t crc;
    std::memcpy(&crc, header.data() + sizeof(fixed) + body_len, 4);
    if (got != body_len + 4 || crc != Crc32c(header.data(), sizeof(fixed) + body_len)) {
      return Status::Corruption(path + ": file header CRC mismatch");
    }
    // Every version keeps magic, version, body length, body, CRC: a CRC-valid
    // header with another version is a format this build does not know.
    if (version != internal::kShardVersion) {
      return Status::InvalidArgument(path + ": shard format version " + std::to_string(version) +
                                     " (this build reads version " +
                                     std::to_string(internal::kShardVersion) + ")");
    }
    MSREC_ASSIGN_OR_RETURN(f->layout_,
                           internal::DecodeFileHeaderBody(
                               std::string_view(header).substr(sizeof(fixed), body_len), path));
    return f;
  }

  // Reads `n` bytes at the current position; returns how many were read.
  Result<size_t> ReadAt(char* buf, size_t n) {
    size_t done = 0;
    while (done < n) {
      const ssize_t got = ::pread(fd_, buf + done, n - done, static_cast<off_t>(pos_ + done));
      if (got < 0) {
        if (errno == EINTR) continue;
        return Status::IoError("read " + path_ + ": " + std::strerror(errno));
      }
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    pos_ += done;
    return done;
  }

  const std::string& path() const { return path_; }
  const ShardLayout& layout() const { return layout_; }
  uint64_t pos() const { return pos_; }
  uint64_t size() const { return size_; }
  void Skip(uint64_t n) { pos_ += n; }

 private:
  ShardFile() = default;
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t pos_ = 0;
  ShardLayout layout_;
};

struct RawBlock {
  Status status;
  bool end = false;  // end of all input
  int file = 0;
  int64_t index = 0;        // block index in its file
  uint64_t offset = 0;      // byte offset of the block header
  uint64_t bytes_done = 0;  // input bytes consumed through this block (all files)
  uint32_t rows = 0;
  std::string payload;
  std::vector<std::string> scenarios;  // index < 0: the file's embedded scenario map
};

class ShardReader : public Reader {
 public:
  ShardReader(std::vector<std::string> paths, const ReaderOptions& options,
              std::unique_ptr<ShardFile> first, uint64_t total_bytes)
      : paths_(std::move(paths)),
        options_(options),
        schema_(first->layout().schema),
        map_(options.scenario_map ? options.scenario_map : &own_map_),
        total_bytes_(total_bytes),
        queue_(static_cast<size_t>(options.queue_capacity)) {
    layout_.num_cat_fields = schema_.num_cat_fields();
    layout_.num_dense = schema_.num_dense();
    layout_.num_labels = schema_.num_labels();
    flags_ = internal::LayoutFlags(schema_);
    prefetch_ = std::thread([this, f = std::move(first)]() mutable { PrefetchLoop(std::move(f)); });
  }

  ~ShardReader() override {
    stop_ = true;
    queue_.Close();
    prefetch_.join();
  }

  Result<bool> Next(Batch* batch) override {
    if (!failed_.ok()) return failed_;
    Result<int64_t> n = rebatcher_.Fill(options_.batch_size, layout_, batch,
                                        [this](Batch* block) { return NextBlock(block); });
    if (!n.ok()) {
      failed_ = n.status();
      batch->ClearRows();
      return failed_;
    }
    std::lock_guard<std::mutex> lock(stats_mu_);
    if (n.value() == 0) return false;
    if (options_.drop_last && n.value() < options_.batch_size) {
      stats_.rows_dropped += n.value();
      batch->ClearRows();
      return false;
    }
    stats_.rows_ok += n.value();
    return true;
  }

  ReaderStats stats() const override {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }
  double Progress() const override {
    std::lock_guard<std::mutex> lock(stats_mu_);
    if (total_bytes_ == 0) return 1.0;
    return std::min(1.0, static_cast<double>(stats_.bytes_read) / total_bytes_);
  }
  const Schema& schema() const override { return schema_; }
  const ScenarioMap& scenario_map() const override { return *map_; }

 private:
  // --- prefetch thread ------------------------------------------------------
  void PrefetchLoop(std::unique_ptr<ShardFile> first) {
    uint64_t bytes_before = 0;
    Status st = ReadAll(std::move(first), &bytes_before);
    RawBlock last;
    last.status = st;
    last.end = st.ok();
    queue_.Push(std::move(last));
  }

  Status ReadAll(std::unique_ptr<ShardFile> f, uint64_t* bytes_before) {
    int64_t global_block = 0;
    for (size_t file = 0; file < paths_.size(); ++file) {
      if (file > 0) {
        MSREC_ASSIGN_OR_RETURN(f, ShardFile::Open(paths_[file]));
        if (f->layout().schema != schema_) {
          return Status::InvalidArgument(paths_[file] + ": schema differs from " + paths_[0] +
                                         ": " + f->layout().schema.ToString() + " vs " +
                                         schema_.ToString());
        }
      }
      {
        RawBlock start;  // rows == 0, payload empty: announces the file (for remapping)
        start.file = static_cast<int>(file);
        start.index = -1;
        start.scenarios = f->layout().scenarios;
        if (!queue_.Push(std::move(start))) return Status::OK();
      }
      for (int64_t index = 0;; ++index) {
        if (stop_) return Status::OK();
        const uint64_t offset = f->pos();
        auto where = [&] {
          return f->path() + ": block " + std::to_string(index) + " at offset " +
                 std::to_string(offset);
        };
        char head[kBlockHeaderBytes];
        MSREC_ASSIGN_OR_RETURN(size_t got, f->ReadAt(head, sizeof(head)));
        if (got < sizeof(head)) {
          return Status::Corruption(where() + ": file truncated (no end block)");
        }
        BlockHeader h;
        if (!internal::DecodeBlockHeader(head, &h)) {
          return Status::Corruption(where() + ": bad block header (magic or CRC)");
        }
        if (h.payload_bytes > f->size() - f->pos()) {
          return Status::Corruption(where() + ": file truncated (payload of " +
                                    std::to_string(h.payload_bytes) + " bytes)");
        }
        const bool mine = global_block % options_.num_parts == options_.part_index;
        if (h.num_rows > 0 && !mine) {
          f->Skip(h.payload_bytes);
          ++global_block;
          continue;
        }
        RawBlock b;
        b.file = static_cast<int>(file);
        b.index = index;
        b.offset = offset;
        b.rows = h.num_rows;
        b.payload.resize(h.payload_bytes);
        MSREC_ASSIGN_OR_RETURN(got, f->ReadAt(b.payload.data(), b.payload.size()));
        if (got != b.payload.size()) return Status::Corruption(where() + ": file truncated");
        if (Crc32c(b.payload.data(), b.payload.size()) != h.payload_crc) {
          return Status::Corruption(where() + ": payload CRC mismatch");
        }
        b.bytes_done = *bytes_before + f->pos();
        if (h.num_rows == 0) {  // end block
          if (f->pos() != f->size()) {
            return Status::Corruption(where() + ": bytes after the end block");
          }
          break;
        }
        ++global_block;
        if (!queue_.Push(std::move(b))) return Status::OK();
      }
      *bytes_before += f->size();
    }
    return Status::OK();
  }

  // --- consumer -------------------------------------------------------------
  Result<bool> NextBlock(Batch* block) {
    if (at_end_) return false;
    for (;;) {
      std::optional<RawBlock> raw = queue_.Pop();
      if (!raw.has_value()) return Status::Internal("shard prefetch queue closed early");
      if (!raw->status.ok()) return raw->status;
      if (raw->end) {
        at_end_ = true;
        std::lock_guard<std::mutex> lock(stats_mu_);
        stats_.bytes_read = static_cast<int64_t>(total_bytes_);
        stats_.files_done = static_cast<int>(paths_.size());
        return false;
      }
      if (raw->index < 0) {
        StartFile(raw->file, raw->scenarios);
        continue;
      }
      block->num_cat_fields = layout_.num_cat_fields;
      block->num_dense = layout_.num_dense;
      block->num_labels = layout_.num_labels;
      if (!internal::DecodePayload(raw->payload, raw->rows, flags_, block)) {
        return Status::Corruption(paths_[raw->file] + ": block " + std::to_string(raw->index) +
                                  " at offset " + std::to_string(raw->offset) +
                                  ": payload sizes do not add up");
      }
      MSREC_RETURN_IF_ERROR(Remap(*raw, block));
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.bytes_read = static_cast<int64_t>(raw->bytes_done);
      return true;
    }
  }

  void StartFile(int file, const std::vector<std::string>& scenarios) {
    if (file > 0) {
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.files_done = file;
    }
    remap_.clear();
    identity_ = true;
    for (size_t i = 0; i < scenarios.size(); ++i) {
      remap_.push_back(map_->FindOrAdd(scenarios[i]));
      identity_ = identity_ && remap_.back() == static_cast<int32_t>(i);
    }
    scenario_names_ = scenarios;
  }

  // Maps embedded scenario ids to map_ ids; rows with unknown ones are bad rows.
  Status Remap(const RawBlock& raw, Batch* block) {
    for (int32_t s : block->scenario) {
      if (s < 0 || s >= static_cast<int32_t>(remap_.size())) {
        return Status::Corruption(paths_[raw.file] + ": block " + std::to_string(raw.index) +
                                  ": scenario id " + std::to_string(s) + " out of range");
      }
    }
    if (identity_) return Status::OK();
    bool any_unknown = false;
    for (int32_t& s : block->scenario) {
      any_unknown |= remap_[s] < 0;
    }
    if (any_unknown) {
      Batch kept;
      kept.num_cat_fields = block->num_cat_fields;
      kept.num_dense = block->num_dense;
      kept.num_labels = block->num_labels;
      kept.ClearRows();
      for (int64_t i = 0; i < block->size; ++i) {
        const int32_t s = block->scenario[i];
        if (remap_[s] >= 0) {
          kept.AppendRow(*block, i);
          continue;
        }
        std::lock_guard<std::mutex> lock(stats_mu_);
        ++stats_.rows_bad[static_cast<int>(BadRowKind::kUnknownScenario)];
        const int64_t total = stats_.total_bad();
        const std::string where =
            paths_[raw.file] + ": block " + std::to_string(raw.index) + " row " + std::to_string(i);
        const std::string reason = "unknown_scenario '" + scenario_names_[s] + "'";
        if (total <= options_.max_logged_bad_rows) LOG(WARNING) << where << ": bad row: " << reason;
        if (options_.max_bad_rows >= 0 && total > options_.max_bad_rows) {
          return Status::InvalidArgument(
              where + ": too many bad rows (" + std::to_string(total) + " > max_bad_rows=" +
              std::to_string(options_.max_bad_rows) + "); this one: " + reason);
        }
      }
      std::swap(*block, kept);
    }
    for (int32_t& s : block->scenario) s = remap_[s];
    return Status::OK();
  }

  const std::vector<std::string> paths_;
  const ReaderOptions options_;
  const Schema schema_;
  ScenarioMap own_map_;
  ScenarioMap* const map_;
  const uint64_t total_bytes_;
  Batch layout_;
  uint32_t flags_ = 0;

  BoundedQueue<RawBlock> queue_;
  std::atomic<bool> stop_{false};
  std::thread prefetch_;

  // Consumer-thread state.
  internal::Rebatcher rebatcher_;
  Status failed_;
  bool at_end_ = false;
  std::vector<int32_t> remap_;
  bool identity_ = true;
  std::vector<std::string> scenario_names_;

  mutable std::mutex stats_mu_;
  ReaderStats stats_;  // guarded by stats_mu_
};

}  // namespace

Result<bool> IsShardFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
  char magic[8];
  const ssize_t got = ::pread(fd, magic, sizeof(magic), 0);
  ::close(fd);
  return got == static_cast<ssize_t>(sizeof(magic)) &&
         std::memcmp(magic, internal::kShardMagic, sizeof(magic)) == 0;
}

Result<ShardLayout> ReadShardLayout(const std::string& path) {
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<ShardFile> f, ShardFile::Open(path));
  return f->layout();
}

Result<std::unique_ptr<Reader>> OpenShardReader(const std::vector<std::string>& paths,
                                                const ReaderOptions& options) {
  MSREC_ASSIGN_OR_RETURN(const uint64_t total, CheckReaderInputs(paths, options));
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<ShardFile> first, ShardFile::Open(paths[0]));
  const Schema& embedded = first->layout().schema;
  if (!options.schema.empty()) {
    std::vector<std::string> names;
    for (const Schema::Column& c : embedded.columns()) names.push_back(c.name);
    MSREC_ASSIGN_OR_RETURN(Schema given, Schema::Resolve(options.schema, names, paths[0]));
    if (given != embedded) {
      return Status::InvalidArgument(paths[0] + ": the schema given (" + given.ToString() +
                                     ") differs from the one the shard was written with (" +
                                     embedded.ToString() + ")");
    }
  }
  return std::unique_ptr<Reader>(new ShardReader(paths, options, std::move(first), total));
}

}  // namespace msrec
