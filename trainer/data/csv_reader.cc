#include "trainer/data/csv_reader.h"

#include <algorithm>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "common/bounded_queue.h"
#include "trainer/data/internal/byte_source.h"
#include "trainer/data/internal/chunk.h"
#include "trainer/data/internal/csv_split.h"
#include "trainer/data/internal/rebatch.h"
#include "trainer/data/internal/row_parser.h"

namespace msrec {
namespace {

using internal::ByteSource;
using internal::Chunk;
using internal::ParsedChunk;
using internal::RecordScanner;

struct OpenFile {
  std::unique_ptr<ByteSource> source;
  std::unique_ptr<RecordScanner> scanner;
  char delimiter = 0;
};

// Opens `path` and resolves its header; the schema must equal `expected` if given.
Result<OpenFile> OpenCsvFile(const std::string& path, const ReaderOptions& options, Schema* schema,
                             const Schema* expected) {
  OpenFile f;
  MSREC_ASSIGN_OR_RETURN(f.source, ByteSource::Open(path));
  f.scanner = std::make_unique<RecordScanner>(f.source.get(), size_t{64} << 20,
                                              options.multiline_quotes);
  f.delimiter = options.delimiter;
  MSREC_ASSIGN_OR_RETURN(std::vector<std::string> header, f.scanner->ReadHeader(&f.delimiter));
  MSREC_ASSIGN_OR_RETURN(*schema, Schema::Resolve(options.schema, header, path));
  if (expected != nullptr && *schema != *expected) {
    return Status::InvalidArgument(path + ": schema differs from the first input's: " +
                                   schema->ToString() + " vs " + expected->ToString());
  }
  return f;
}

class CsvReader : public Reader {
 public:
  CsvReader(std::vector<std::string> paths, const ReaderOptions& options, Schema schema,
            OpenFile first, uint64_t total_bytes)
      : paths_(std::move(paths)),
        options_(options),
        schema_(std::move(schema)),
        own_map_(),
        map_(options.scenario_map ? options.scenario_map : &own_map_),
        total_bytes_(total_bytes),
        max_in_flight_(options.queue_capacity + options.num_threads),
        work_(static_cast<size_t>(options.queue_capacity)) {
    layout_.num_cat_fields = schema_.num_cat_fields();
    layout_.num_dense = schema_.num_dense();
    layout_.num_labels = schema_.num_labels();
    io_thread_ = std::thread([this, f = std::move(first)]() mutable { IoLoop(std::move(f)); });
    for (int i = 0; i < options_.num_threads; ++i) {
      parsers_.emplace_back([this] { ParseLoop(); });
    }
  }

  ~CsvReader() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    work_.Close();
    io_thread_.join();
    for (std::thread& t : parsers_) t.join();
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
    if (n.value() == 0) return false;
    if (options_.drop_last && n.value() < options_.batch_size) {
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.rows_dropped += n.value();
      batch->ClearRows();
      return false;
    }
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.rows_ok += n.value();
    return true;
  }

  ReaderStats stats() const override {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }

  double Progress() const override {
    if (total_bytes_ == 0) return done_ ? 1.0 : 0.0;
    std::lock_guard<std::mutex> lock(stats_mu_);
    return std::min(1.0, static_cast<double>(stats_.bytes_read) / total_bytes_);
  }

  const Schema& schema() const override { return schema_; }
  const ScenarioMap& scenario_map() const override { return *map_; }

 private:
  // --- I/O thread -----------------------------------------------------------
  void IoLoop(OpenFile first) {
    int64_t seq = 0;
    Status st = CutAll(std::move(first), &seq);
    ParsedChunk marker;
    marker.seq = seq;
    marker.end = st.ok();
    marker.status = st;
    Deliver(std::move(marker));
    work_.Close();
  }

  Status CutAll(OpenFile f, int64_t* seq) {
    for (size_t file = 0; file < paths_.size(); ++file) {
      if (file > 0) {
        Schema s;
        MSREC_ASSIGN_OR_RETURN(f, OpenCsvFile(paths_[file], options_, &s, &schema_));
      }
      int64_t line = f.scanner->lines_consumed() + 1;
      for (;;) {
        if (!AcquireSlot()) return Status::OK();  // stopping
        Chunk chunk;
        int64_t lines = 0;
        Result<bool> more =
            f.scanner->NextChunk(ChunkBytes(), &chunk.data, &chunk.has_quote, &lines);
        if (!more.ok()) return more.status();
        if (!more.value()) {
          ReleaseSlot();
          break;
        }
        chunk.seq = (*seq)++;
        chunk.file = static_cast<int>(file);
        chunk.delimiter = f.delimiter;
        chunk.first_line = line;
        chunk.file_pos = f.source->position();
        chunk.count_only = chunk.seq % options_.num_parts != options_.part_index;
        line += lines;
        if (!work_.Push(std::move(chunk))) return Status::OK();
      }
      // Marks the end of `file` in the output order.
      if (!AcquireSlot()) return Status::OK();
      ParsedChunk eof;
      eof.seq = (*seq)++;
      eof.file = static_cast<int>(file);
      eof.last_of_file = true;
      eof.file_pos = f.source->file_size();
      Deliver(std::move(eof));
    }
    return Status::OK();
  }

  bool AcquireSlot() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return stop_ || in_flight_ < max_in_flight_; });
    if (stop_) return false;
    ++in_flight_;
    return true;
  }
  void ReleaseSlot() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --in_flight_;
    }
    cv_.notify_all();
  }

  // --- parser threads -------------------------------------------------------
  void ParseLoop() {
    internal::RowParser parser(schema_, map_);
    while (std::optional<Chunk> chunk = work_.Pop()) {
      ParsedChunk out;
      parser.Parse(*chunk, &out);
      Deliver(std::move(out));
    }
  }

  void Deliver(ParsedChunk chunk) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      const int64_t seq = chunk.seq;
      done_chunks_.emplace(seq, std::move(chunk));
    }
    cv_.notify_all();
  }

  // --- consumer -------------------------------------------------------------
  // Takes the next chunk in sequence order and accounts for it; false at end.
  Result<bool> NextBlock(Batch* block) {
    if (done_) return false;
    for (;;) {
      ParsedChunk c;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return done_chunks_.count(next_seq_) > 0; });
        auto it = done_chunks_.find(next_seq_);
        c = std::move(it->second);
        done_chunks_.erase(it);
        if (!c.end && c.status.ok()) {
          ++next_seq_;
          --in_flight_;
        }
      }
      cv_.notify_all();
      if (!c.status.ok()) return c.status;
      if (c.end) {
        done_ = true;
        return false;
      }
      MSREC_RETURN_IF_ERROR(Account(&c));
      if (c.rows.size == 0) continue;
      std::swap(*block, c.rows);
      return true;
    }
  }

  Status Account(ParsedChunk* c) {
    const std::string& path = paths_[c->file];
    for (size_t i = 0; i < c->pending_scenarios.size(); ++i) {
      pending_ids_.resize(c->pending_scenarios.size());
      pending_ids_[i] = map_->FindOrAdd(c->pending_scenarios[i]);
      CHECK_GE(pending_ids_[i], 0) << "scenario map became fixed while reading";
    }
    for (int32_t& s : c->rows.scenario) {
      if (s < 0) s = pending_ids_[-1 - s];
    }
    for (int64_t& r : c->rows.record) r += record_base_;
    record_base_ += c->records;
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.blank_lines += c->blank_lines;
    stats_.bytes_read = file_bytes_before_ + c->file_pos;
    if (c->last_of_file) {
      ++stats_.files_done;
      file_bytes_before_ += c->file_pos;
      stats_.bytes_read = file_bytes_before_;
    }
    for (const internal::BadRow& bad : c->bad) {
      ++stats_.rows_bad[static_cast<int>(bad.kind)];
      const int64_t total = stats_.total_bad();
      const std::string where = path + ":" + std::to_string(bad.line);
      if (total <= options_.max_logged_bad_rows) {
        LOG(WARNING) << where << ": bad row: " << bad.reason;
      }
      if (options_.max_bad_rows >= 0 && total > options_.max_bad_rows) {
        return Status::InvalidArgument(where + ": too many bad rows (" + std::to_string(total) +
                                       " > max_bad_rows=" + std::to_string(options_.max_bad_rows) +
                                       "); this one: " + bad.reason);
      }
    }
    return Status::OK();
  }

  const std::vector<std::string> paths_;
  const ReaderOptions options_;
  const Schema schema_;
  ScenarioMap own_map_;
  ScenarioMap* const map_;
  const uint64_t total_bytes_;

  // Chunks are dealt round-robin to the parts: with several parts they are
  // cut small enough that every part gets at least ~64 of them, so the parts'
  // rows differ by about 1/64 of a part, not by whole megabyte chunks (a
  // data-parallel epoch ends when the shortest part runs out).
  size_t ChunkBytes() const {
    if (options_.num_parts <= 1) return options_.chunk_bytes;
    const uint64_t even = total_bytes_ / (uint64_t(options_.num_parts) * 64);
    const uint64_t most = options_.chunk_bytes;
    return size_t(std::clamp<uint64_t>(even, std::min<uint64_t>(16 << 10, most), most));
  }
  const int max_in_flight_;
  Batch layout_;

  BoundedQueue<Chunk> work_;
  std::thread io_thread_;
  std::vector<std::thread> parsers_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                           // guarded by mu_
  int in_flight_ = 0;                           // guarded by mu_: chunks cut, not consumed
  std::map<int64_t, ParsedChunk> done_chunks_;  // guarded by mu_
  int64_t next_seq_ = 0;                        // guarded by mu_

  // Consumer-thread state.
  internal::Rebatcher rebatcher_;
  Status failed_;
  std::atomic<bool> done_{false};
  int64_t record_base_ = 0;
  uint64_t file_bytes_before_ = 0;
  std::vector<int32_t> pending_ids_;

  mutable std::mutex stats_mu_;
  ReaderStats stats_;  // guarded by stats_mu_
};

}  // namespace

Result<std::unique_ptr<Reader>> OpenCsvReader(const std::vector<std::string>& paths,
                                              const ReaderOptions& options) {
  if (options.num_threads <= 0) return Status::InvalidArgument("num_threads must be > 0");
  MSREC_ASSIGN_OR_RETURN(const uint64_t total, CheckReaderInputs(paths, options));
  Schema schema;
  MSREC_ASSIGN_OR_RETURN(OpenFile first, OpenCsvFile(paths[0], options, &schema, nullptr));
  return std::unique_ptr<Reader>(
      new CsvReader(paths, options, std::move(schema), std::move(first), total));
}

}  // namespace msrec
