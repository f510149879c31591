#include "trainer/data/internal/csv_split.h"

#include <algorithm>
#include <cstring>

namespace msrec::internal {

size_t FindRecordEnd(const char* data, size_t n, char delim, bool first, bool multiline_quotes) {
  if (!multiline_quotes || std::memchr(data, '"', n) == nullptr) {
    const void* nl = first ? std::memchr(data, '\n', n) : memrchr(data, '\n', n);
    return nl ? static_cast<size_t>(static_cast<const char*>(nl) - data) + 1 : 0;
  }
  enum State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };
  State st = kFieldStart;
  size_t last = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = data[i];
    switch (st) {
      case kFieldStart:
        if (c == '"') {
          st = kQuoted;
          break;
        }
        [[fallthrough]];
      case kUnquoted:
      case kQuoteInQuoted:
        if (st == kQuoteInQuoted && c == '"') {
          st = kQuoted;
        } else if (c == delim) {
          st = kFieldStart;
        } else if (c == '\n') {
          st = kFieldStart;
          last = i + 1;
          if (first) return last;
        } else {
          st = kUnquoted;
        }
        break;
      case kQuoted: {
        const void* q = std::memchr(data + i, '"', n - i);
        if (q == nullptr) return last;
        i = static_cast<size_t>(static_cast<const char*>(q) - data);
        st = kQuoteInQuoted;
        break;
      }
    }
  }
  return last;
}

bool SplitRecord(std::string_view record, char delim, std::vector<std::string_view>* fields,
                 std::string* scratch) {
  fields->clear();
  const char* p = record.data();
  const char* end = p + record.size();
  if (std::memchr(p, '"', record.size()) == nullptr) {
    for (;;) {
      const char* d = static_cast<const char*>(std::memchr(p, delim, end - p));
      if (d == nullptr) {
        fields->emplace_back(p, end - p);
        return true;
      }
      fields->emplace_back(p, d - p);
      p = d + 1;
    }
  }
  scratch->clear();
  scratch->reserve(record.size());  // no reallocation below: views stay valid
  for (;;) {
    if (p < end && *p == '"') {
      const size_t start = scratch->size();
      ++p;
      for (;;) {
        if (p >= end) return false;  // no closing quote
        if (*p == '"') {
          if (p + 1 < end && p[1] == '"') {
            scratch->push_back('"');
            p += 2;
            continue;
          }
          ++p;
          break;
        }
        scratch->push_back(*p++);
      }
      fields->emplace_back(scratch->data() + start, scratch->size() - start);
      if (p == end) return true;
      if (*p != delim) return false;  // text after the closing quote
      ++p;
    } else {
      const char* d = static_cast<const char*>(std::memchr(p, delim, end - p));
      if (d == nullptr) {
        fields->emplace_back(p, end - p);
        return true;
      }
      fields->emplace_back(p, d - p);
      p = d + 1;
    }
  }
}

char DetectDelimiter(std::string_view line) {
  const auto commas = std::count(line.begin(), line.end(), ',');
  const auto tabs = std::count(line.begin(), line.end(), '\t');
  return tabs > commas ? '\t' : ',';
}

RecordScanner::RecordScanner(ByteSource* source, size_t max_record_bytes, bool multiline_quotes)
    : source_(source), max_record_bytes_(max_record_bytes), multiline_quotes_(multiline_quotes) {}

Status RecordScanner::Fill(size_t want) {
  if (pos_ > 0 && (end_ - pos_ < want)) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  while (!eof_ && end_ - pos_ < want) {
    if (buf_.size() < pos_ + want) buf_.resize(std::max(pos_ + want, buf_.size() * 2));
    MSREC_ASSIGN_OR_RETURN(size_t got, source_->Read(buf_.data() + end_, buf_.size() - end_));
    if (got == 0) eof_ = true;
    end_ += got;
  }
  return Status::OK();
}

Status RecordScanner::TooLong() const {
  return Status::Corruption(source_->path() + ":" + std::to_string(lines_consumed_ + 1) +
                            ": record longer than " + std::to_string(max_record_bytes_) +
                            " bytes" + (multiline_quotes_ ? " (unterminated quote?)" : ""));
}

Result<std::vector<std::string>> RecordScanner::ReadHeader(char* delimiter) {
  // Detect the delimiter from the first physical line.
  size_t want = 1 << 16;
  for (;;) {
    MSREC_RETURN_IF_ERROR(Fill(want));
    if (std::memchr(buf_.data() + pos_, '\n', end_ - pos_) || eof_) break;
    if (want > max_record_bytes_) return TooLong();
    want *= 2;
  }
  if (end_ == pos_)
    return Status::InvalidArgument(source_->path() + ": empty file (a header is required)");
  // A UTF-8 byte-order mark is not part of the first column's name.
  if (end_ - pos_ >= 3 && std::memcmp(buf_.data() + pos_, "\xEF\xBB\xBF", 3) == 0) pos_ += 3;
  std::string_view first(buf_.data() + pos_, end_ - pos_);
  first = first.substr(0, first.find('\n'));
  if (*delimiter == 0) *delimiter = DetectDelimiter(first);
  delim_ = *delimiter;
  std::string_view record;
  MSREC_ASSIGN_OR_RETURN(bool more, NextRecord(&record));
  if (!more || record.empty()) {
    return Status::InvalidArgument(source_->path() + ": empty header line");
  }
  std::vector<std::string_view> views;
  std::string scratch;
  if (!SplitRecord(record, delim_, &views, &scratch)) {
    return Status::InvalidArgument(source_->path() + ":1: malformed quoting in the header");
  }
  std::vector<std::string> header;
  for (std::string_view v : views) header.emplace_back(v);
  return header;
}

Result<bool> RecordScanner::NextRecord(std::string_view* record) {
  size_t want = 1 << 16;
  for (;;) {
    const size_t len =
        FindRecordEnd(buf_.data() + pos_, end_ - pos_, delim_, /*first=*/true, multiline_quotes_);
    if (len > 0 || (eof_ && end_ > pos_)) {
      const size_t n = len > 0 ? len : end_ - pos_;
      std::string_view r(buf_.data() + pos_, n);
      lines_consumed_ += std::count(r.begin(), r.end(), '\n') + (len > 0 ? 0 : 1);
      pos_ += n;
      if (!r.empty() && r.back() == '\n') r.remove_suffix(1);
      if (!r.empty() && r.back() == '\r') r.remove_suffix(1);
      *record = r;
      return true;
    }
    if (eof_) return false;
    if (end_ - pos_ > max_record_bytes_) return TooLong();
    MSREC_RETURN_IF_ERROR(Fill(std::max(want, 2 * (end_ - pos_))));
    want *= 2;
  }
}

Result<bool> RecordScanner::NextChunk(size_t target_bytes, std::string* chunk, bool* has_quote,
                                      int64_t* lines) {
  size_t want = std::max<size_t>(target_bytes, 1);
  for (;;) {
    MSREC_RETURN_IF_ERROR(Fill(want));
    const char* data = buf_.data() + pos_;
    const size_t avail = end_ - pos_;
    if (avail == 0) return false;
    // About target_bytes: the last record end within them (the buffer may hold
    // more), or the first one after them when a record is longer.
    size_t len = FindRecordEnd(data, std::min(avail, target_bytes), delim_, /*first=*/false,
                               multiline_quotes_);
    if (len == 0) len = FindRecordEnd(data, avail, delim_, /*first=*/true, multiline_quotes_);
    if (len == 0 && eof_) len = avail;  // last record without a terminator
    if (len > 0) {
      chunk->append(data, len);
      // Records of a chunk are cut quote-aware only in the multi-line dialect.
      *has_quote = multiline_quotes_ && std::memchr(data, '"', len) != nullptr;
      *lines = std::count(data, data + len, '\n');
      lines_consumed_ += *lines;
      pos_ += len;
      return true;
    }
    if (avail > max_record_bytes_) return TooLong();
    want = 2 * avail;
  }
}

}  // namespace msrec::internal
