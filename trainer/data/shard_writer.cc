#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/hash.h"
#include "trainer/data/internal/shard_format.h"
#include "trainer/data/shard.h"

namespace msrec {

using internal::BlockHeader;
using internal::kBlockHeaderBytes;

Result<std::unique_ptr<ShardWriter>> ShardWriter::Open(const std::string& path,
                                                       const ShardLayout& layout,
                                                       int64_t rows_per_block) {
  if (rows_per_block <= 0 || rows_per_block > (int64_t{1} << 31)) {
    return Status::InvalidArgument("rows_per_block must be in [1, 2^31]");
  }
  const std::string tmp = path + ".tmp";
  std::FILE* file = std::fopen(tmp.c_str(), "wb");
  if (file == nullptr) {
    return Status::IoError("cannot create " + tmp + ": " + std::strerror(errno));
  }
  std::unique_ptr<ShardWriter> w(new ShardWriter(path, layout, rows_per_block, file));
  const std::string header = internal::EncodeFileHeader(layout);
  if (std::fwrite(header.data(), 1, header.size(), file) != header.size()) {
    return Status::IoError("write " + tmp + ": " + std::strerror(errno));
  }
  return w;
}

ShardWriter::ShardWriter(std::string path, ShardLayout layout, int64_t rows_per_block,
                         std::FILE* file)
    : path_(std::move(path)),
      layout_(std::move(layout)),
      rows_per_block_(rows_per_block),
      file_(file) {
  pending_.num_cat_fields = layout_.schema.num_cat_fields();
  pending_.num_dense = layout_.schema.num_dense();
  pending_.num_labels = layout_.schema.num_labels();
  pending_.ClearRows();
}

ShardWriter::~ShardWriter() {
  if (!closed_ && file_ != nullptr) {
    std::fclose(file_);
    std::remove((path_ + ".tmp").c_str());
  }
}

Status ShardWriter::Append(const Batch& batch) {
  if (closed_) return Status::InvalidArgument(path_ + ": Append after Close");
  const Schema& s = layout_.schema;
  if (batch.num_cat_fields != s.num_cat_fields() || batch.num_dense != s.num_dense() ||
      batch.num_labels != s.num_labels() ||
      (static_cast<int64_t>(batch.instance_id.size()) == batch.size) != s.has_id() ||
      (static_cast<int64_t>(batch.oracle.size()) == batch.size) != s.has_oracle()) {
    if (batch.size > 0) {
      return Status::InvalidArgument(path_ + ": batch layout does not match the shard schema " +
                                     s.ToString());
    }
  }
  for (int32_t id : batch.scenario) {
    if (id < 0 || id >= static_cast<int32_t>(layout_.scenarios.size())) {
      return Status::InvalidArgument(path_ + ": scenario id " + std::to_string(id) +
                                     " is not in the shard's scenario map");
    }
  }
  int64_t i = 0;
  while (i < batch.size) {
    const int64_t take = std::min(batch.size - i, rows_per_block_ - pending_.size);
    pending_.AppendRows(batch, i, i + take);
    i += take;
    if (pending_.size == rows_per_block_) MSREC_RETURN_IF_ERROR(WriteBlock());
  }
  return Status::OK();
}

Status ShardWriter::WriteBlock() {
  BlockHeader h;
  h.num_rows = static_cast<uint32_t>(pending_.size);
  if (pending_.size > 0) {
    internal::EncodePayload(pending_, 0, pending_.size, &payload_);
  } else {  // end block: total rows and blocks
    payload_.clear();
    const uint64_t totals[2] = {static_cast<uint64_t>(rows_written_),
                                static_cast<uint64_t>(blocks_written_)};
    payload_.append(reinterpret_cast<const char*>(totals), sizeof(totals));
  }
  h.payload_bytes = payload_.size();
  h.payload_crc = Crc32c(payload_.data(), payload_.size());
  char head[kBlockHeaderBytes];
  internal::EncodeBlockHeader(h, head);
  if (std::fwrite(head, 1, sizeof(head), file_) != sizeof(head) ||
      std::fwrite(payload_.data(), 1, payload_.size(), file_) != payload_.size()) {
    return Status::IoError("write " + path_ + ".tmp: " + std::strerror(errno));
  }
  rows_written_ += pending_.size;
  if (pending_.size > 0) ++blocks_written_;
  pending_.ClearRows();
  return Status::OK();
}

Status ShardWriter::Close() {
  if (closed_) return Status::OK();
  if (pending_.size > 0) MSREC_RETURN_IF_ERROR(WriteBlock());
  MSREC_RETURN_IF_ERROR(WriteBlock());  // end block
  closed_ = true;
  const std::string tmp = path_ + ".tmp";
  if (std::fclose(file_) != 0) {
    file_ = nullptr;
    return Status::IoError("close " + tmp + ": " + std::strerror(errno));
  }
  file_ = nullptr;
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    return Status::IoError("rename " + tmp + " to " + path_ + ": " + std::strerror(errno));
  }
  return Status::OK();
}

}  // namespace msrec
