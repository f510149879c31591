#include "parameter_server/internal/row.h"

#include <cstring>

namespace msrec {

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "msrec rows are stored little-endian; big-endian hosts are not supported"
#endif

namespace {

struct Header {
  uint8_t version;
  uint8_t kind;
  uint32_t dim;
  uint32_t state_floats;
};

void PutHeader(SparseOptimizerKind kind, uint32_t dim, uint32_t state_floats, char* p) {
  p[0] = static_cast<char>(kRowFormatVersion);
  p[1] = static_cast<char>(kind);
  p[2] = 0;
  p[3] = 0;
  std::memcpy(p + 4, &dim, 4);
  std::memcpy(p + 8, &state_floats, 4);
}

Header GetHeader(const char* p) {
  Header h;
  h.version = static_cast<uint8_t>(p[0]);
  h.kind = static_cast<uint8_t>(p[1]);
  std::memcpy(&h.dim, p + 4, 4);
  std::memcpy(&h.state_floats, p + 8, 4);
  return h;
}

Status RowCorruption(const std::string& table, uint64_t key, const std::string& what) {
  return Status::Corruption("table '" + table + "' key " + std::to_string(key) + ": " + what);
}

bool ValidKind(uint8_t kind) { return kind <= static_cast<uint8_t>(SparseOptimizerKind::kFtrl); }

// Checks the parts that do not depend on an expected layout.
Status CheckSelf(std::string_view bytes, const std::string& table, uint64_t key, Header* h) {
  if (bytes.size() < kRowHeaderBytes + kRowTrailerBytes) {
    return RowCorruption(
        table, key,
        "row of " + std::to_string(bytes.size()) + " bytes is shorter than the fixed part");
  }
  *h = GetHeader(bytes.data());
  if (h->version != kRowFormatVersion) {
    return RowCorruption(table, key,
                         "row format version " + std::to_string(h->version) + ", expected " +
                             std::to_string(kRowFormatVersion));
  }
  if (!ValidKind(h->kind)) {
    return RowCorruption(table, key, "unknown optimizer kind " + std::to_string(h->kind));
  }
  const uint64_t expected =
      kRowHeaderBytes + 4 * (uint64_t{h->dim} + h->state_floats) + kRowTrailerBytes;
  if (bytes.size() != expected) {
    return RowCorruption(table, key,
                         "row has " + std::to_string(bytes.size()) + " bytes, its header (dim " +
                             std::to_string(h->dim) + ", " + std::to_string(h->state_floats) +
                             " state floats) says " + std::to_string(expected));
  }
  return Status::OK();
}

}  // namespace

void EncodeRow(const Row& row, std::string* out) {
  RowLayout layout(row.kind, static_cast<int>(row.weights.size()),
                   static_cast<int>(row.state.size()));
  layout.Write(row.weights.data(), row.state.data(), row.frequency, row.last_step, out);
}

Status DecodeRow(std::string_view bytes, const std::string& table, uint64_t key, Row* row) {
  Header h;
  MSREC_RETURN_IF_ERROR(CheckSelf(bytes, table, key, &h));
  RowLayout layout(static_cast<SparseOptimizerKind>(h.kind), static_cast<int>(h.dim),
                   static_cast<int>(h.state_floats));
  row->kind = layout.kind();
  row->weights.resize(h.dim);
  row->state.resize(h.state_floats);
  layout.Read(bytes, row->weights.data(), row->state.data(), &row->frequency, &row->last_step);
  return Status::OK();
}

RowLayout::RowLayout(SparseOptimizerKind kind, int dim, int state_floats)
    : kind_(kind), dim_(dim), state_floats_(state_floats), bytes_(RowBytes(dim, state_floats)) {
  CHECK_GE(dim, 0);
  CHECK_GE(state_floats, 0);
}

Status RowLayout::Check(std::string_view bytes, const std::string& table, uint64_t key) const {
  if (bytes.size() == bytes_) {  // fast path: compare the header bytes directly
    char expected[kRowHeaderBytes];
    PutHeader(kind_, static_cast<uint32_t>(dim_), static_cast<uint32_t>(state_floats_), expected);
    if (std::memcmp(expected, bytes.data(), kRowHeaderBytes) == 0) return Status::OK();
  }
  Header h;
  MSREC_RETURN_IF_ERROR(CheckSelf(bytes, table, key, &h));
  if (h.kind != static_cast<uint8_t>(kind_)) {
    return RowCorruption(table, key,
                         "row optimizer kind " + std::to_string(h.kind) + ", table uses " +
                             std::to_string(static_cast<int>(kind_)));
  }
  if (h.dim != static_cast<uint32_t>(dim_)) {
    return RowCorruption(
        table, key, "row dim " + std::to_string(h.dim) + ", table dim " + std::to_string(dim_));
  }
  if (h.state_floats != static_cast<uint32_t>(state_floats_)) {
    return RowCorruption(table, key,
                         "row has " + std::to_string(h.state_floats) + " state floats, table has " +
                             std::to_string(state_floats_));
  }
  return RowCorruption(table, key, "row header has nonzero reserved bytes");
}

void RowLayout::Read(std::string_view bytes, float* weights, float* state, uint64_t* frequency,
                     int64_t* last_step) const {
  DCHECK_EQ(bytes.size(), bytes_);
  const char* p = bytes.data() + kRowHeaderBytes;
  if (weights != nullptr) std::memcpy(weights, p, 4 * static_cast<size_t>(dim_));
  p += 4 * static_cast<size_t>(dim_);
  if (state != nullptr && state_floats_ > 0) {
    std::memcpy(state, p, 4 * static_cast<size_t>(state_floats_));
  }
  p += 4 * static_cast<size_t>(state_floats_);
  if (frequency != nullptr) std::memcpy(frequency, p, 8);
  if (last_step != nullptr) std::memcpy(last_step, p + 8, 8);
}

void RowLayout::Write(const float* weights, const float* state, uint64_t frequency,
                      int64_t last_step, std::string* out) const {
  out->resize(bytes_);
  char* p = out->data();
  PutHeader(kind_, static_cast<uint32_t>(dim_), static_cast<uint32_t>(state_floats_), p);
  p += kRowHeaderBytes;
  std::memcpy(p, weights, 4 * static_cast<size_t>(dim_));
  p += 4 * static_cast<size_t>(dim_);
  if (state_floats_ > 0) std::memcpy(p, state, 4 * static_cast<size_t>(state_floats_));
  p += 4 * static_cast<size_t>(state_floats_);
  std::memcpy(p, &frequency, 8);
  std::memcpy(p + 8, &last_step, 8);
}

}  // namespace msrec
