#include "trainer/data/internal/shard_format.h"

#include <cstring>

#include "common/hash.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "shards are little-endian");

namespace msrec::internal {
namespace {

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}
void PutString(std::string* out, const std::string& s) {
  Put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}
template <typename T>
void PutArray(std::string* out, const T* p, size_t n) {
  out->append(reinterpret_cast<const char*>(p), n * sizeof(T));
}

// Bounds-checked cursor over a byte range.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  template <typename T>
  bool Get(T* v) {
    if (s_.size() < sizeof(T)) return false;
    std::memcpy(v, s_.data(), sizeof(T));
    s_.remove_prefix(sizeof(T));
    return true;
  }
  bool GetString(std::string* v) {
    uint32_t n;
    if (!Get(&n) || s_.size() < n) return false;
    v->assign(s_.data(), n);
    s_.remove_prefix(n);
    return true;
  }
  template <typename T>
  bool GetArray(std::vector<T>* v, size_t n) {
    if (s_.size() / sizeof(T) < n) return false;
    v->resize(n);
    std::memcpy(v->data(), s_.data(), n * sizeof(T));
    s_.remove_prefix(n * sizeof(T));
    return true;
  }
  const char* data() const { return s_.data(); }
  bool Skip(size_t n) {
    if (s_.size() < n) return false;
    s_.remove_prefix(n);
    return true;
  }
  bool empty() const { return s_.empty(); }

 private:
  std::string_view s_;
};

}  // namespace

uint32_t LayoutFlags(const Schema& schema) {
  return (schema.has_id() ? kFlagInstanceId : 0) | (schema.has_oracle() ? kFlagOracle : 0);
}

std::string EncodeFileHeader(const ShardLayout& layout) {
  std::string body;
  Put<uint64_t>(&body, layout.schema.Fingerprint());
  Put<uint32_t>(&body, layout.schema.num_cat_fields());
  Put<uint32_t>(&body, layout.schema.num_dense());
  Put<uint32_t>(&body, layout.schema.num_labels());
  Put<uint32_t>(&body, LayoutFlags(layout.schema));
  PutString(&body, layout.schema.ToString());
  Put<uint32_t>(&body, static_cast<uint32_t>(layout.scenarios.size()));
  for (const std::string& s : layout.scenarios) PutString(&body, s);
  std::string out(kShardMagic, sizeof(kShardMagic));
  Put<uint32_t>(&out, kShardVersion);
  Put<uint32_t>(&out, static_cast<uint32_t>(body.size()));
  out += body;
  Put<uint32_t>(&out, Crc32c(out.data(), out.size()));
  return out;
}

Result<ShardLayout> DecodeFileHeaderBody(std::string_view body, const std::string& path) {
  auto bad = [&](const std::string& what) {
    return Status::Corruption(path + ": shard file header: " + what);
  };
  Cursor c(body);
  uint64_t fingerprint;
  uint32_t f, d, l, flags, n;
  std::string schema_text;
  if (!c.Get(&fingerprint) || !c.Get(&f) || !c.Get(&d) || !c.Get(&l) || !c.Get(&flags) ||
      !c.GetString(&schema_text) || !c.Get(&n)) {
    return bad("too short");
  }
  Result<Schema> schema = Schema::FromString(schema_text);
  if (!schema.ok()) return bad("bad schema: " + schema.status().message());
  ShardLayout layout;
  layout.schema = std::move(schema).value();
  if (layout.schema.Fingerprint() != fingerprint ||
      static_cast<uint32_t>(layout.schema.num_cat_fields()) != f ||
      static_cast<uint32_t>(layout.schema.num_dense()) != d ||
      static_cast<uint32_t>(layout.schema.num_labels()) != l ||
      LayoutFlags(layout.schema) != flags) {
    return bad("schema fingerprint or layout does not match the schema text");
  }
  layout.scenarios.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (!c.GetString(&layout.scenarios[i])) return bad("truncated scenario map");
  }
  if (!c.empty()) return bad("trailing bytes");
  return layout;
}

void EncodeBlockHeader(const BlockHeader& h, char out[kBlockHeaderBytes]) {
  std::memcpy(out, &kBlockMagic, 4);
  std::memcpy(out + 4, &h.num_rows, 4);
  std::memcpy(out + 8, &h.payload_bytes, 8);
  std::memcpy(out + 16, &h.payload_crc, 4);
  const uint32_t crc = Crc32c(out, 20);
  std::memcpy(out + 20, &crc, 4);
}

bool DecodeBlockHeader(const char in[kBlockHeaderBytes], BlockHeader* h) {
  uint32_t magic, crc;
  std::memcpy(&magic, in, 4);
  std::memcpy(&crc, in + 20, 4);
  if (magic != kBlockMagic || crc != Crc32c(in, 20)) return false;
  std::memcpy(&h->num_rows, in + 4, 4);
  std::memcpy(&h->payload_bytes, in + 8, 8);
  std::memcpy(&h->payload_crc, in + 16, 4);
  return true;
}

void EncodePayload(const Batch& b, int64_t begin, int64_t end, std::string* payload) {
  const int64_t n = end - begin, f = b.num_cat_fields;
  payload->clear();
  PutArray(payload, b.scenario.data() + begin, n);
  PutArray(payload, b.labels.data() + begin * b.num_labels, n * b.num_labels);
  PutArray(payload, b.dense.data() + begin * b.num_dense, n * b.num_dense);
  const size_t counts_at = payload->size();
  payload->resize(counts_at + n * f * sizeof(uint32_t));
  char* counts = payload->data() + counts_at;
  for (int64_t j = 0; j < n * f; ++j) {
    const int64_t k = begin * f + j;
    const uint32_t count = static_cast<uint32_t>(b.offsets[k + 1] - b.offsets[k]);
    std::memcpy(counts + j * sizeof(uint32_t), &count, sizeof(uint32_t));
  }
  const int64_t k0 = b.offsets[begin * f], k1 = b.offsets[end * f];
  PutArray(payload, b.keys.data() + k0, k1 - k0);
  if (!b.instance_id.empty()) PutArray(payload, b.instance_id.data() + begin, n);
  if (!b.oracle.empty()) PutArray(payload, b.oracle.data() + begin, n);
  PutArray(payload, b.record.data() + begin, n);
}

bool DecodePayload(std::string_view payload, int64_t rows, uint32_t flags, Batch* out) {
  Cursor c(payload);
  const int64_t f = out->num_cat_fields;
  if (!c.GetArray(&out->scenario, rows) || !c.GetArray(&out->labels, rows * out->num_labels) ||
      !c.GetArray(&out->dense, rows * out->num_dense)) {
    return false;
  }
  const char* counts = c.data();
  if (!c.Skip(rows * f * sizeof(uint32_t))) return false;
  out->offsets.resize(rows * f + 1);
  int64_t total = 0;
  out->offsets[0] = 0;
  for (int64_t j = 0; j < rows * f; ++j) {
    uint32_t count;
    std::memcpy(&count, counts + j * sizeof(uint32_t), sizeof(uint32_t));
    total += count;
    out->offsets[j + 1] = total;
  }
  if (!c.GetArray(&out->keys, total)) return false;
  if (flags & kFlagInstanceId) {
    if (!c.GetArray(&out->instance_id, rows)) return false;
  } else {
    out->instance_id.clear();
  }
  if (flags & kFlagOracle) {
    if (!c.GetArray(&out->oracle, rows)) return false;
  } else {
    out->oracle.clear();
  }
  if (!c.GetArray(&out->record, rows) || !c.empty()) return false;
  out->size = rows;
  return true;
}

}  // namespace msrec::internal
