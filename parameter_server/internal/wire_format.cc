#include "parameter_server/internal/wire_format.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <sstream>

#include "cluster/transport.h"

namespace msrec {
namespace {

static_assert(sizeof(float) == 4 && sizeof(uint64_t) == 8, "wire format sizes");

size_t PaddedName(uint32_t name_bytes) { return (static_cast<size_t>(name_bytes) + 7) & ~size_t{7}; }

template <typename T>
void Put(std::string* out, size_t* pos, T value) {
  std::memcpy(&(*out)[*pos], &value, sizeof(T));
  *pos += sizeof(T);
}

template <typename T>
T Get(std::string_view in, size_t* pos) {
  T value;
  std::memcpy(&value, in.data() + *pos, sizeof(T));
  *pos += sizeof(T);
  return value;
}

Status StatusFromCode(uint32_t code, std::string message) {
  using C = Status::Code;
  switch (static_cast<C>(code)) {
    case C::kOk: return Status::OK();
    case C::kInvalidArgument: return Status::InvalidArgument(std::move(message));
    case C::kNotFound: return Status::NotFound(std::move(message));
    case C::kIoError: return Status::IoError(std::move(message));
    case C::kCorruption: return Status::Corruption(std::move(message));
    case C::kTimeout: return Status::Timeout(std::move(message));
    case C::kUnavailable: return Status::Unavailable(std::move(message));
    case C::kInternal: return Status::Internal(std::move(message));
  }
  return Status::Internal("unknown status code " + std::to_string(code) + ": " + message);
}

bool KnownType(uint16_t type) { return type >= 1 && type <= 10; }

}  // namespace

int ReplyTag(uint32_t request_id) { return kFirstReplyTag + static_cast<int>(request_id % 30000); }

bool RequestFits(uint64_t num_keys, uint32_t dim, bool with_floats, size_t payload_bytes) {
  if (num_keys > (uint64_t{1} << 40) || dim > kMaxDim) return false;
  const uint64_t floats = with_floats ? num_keys * dim * sizeof(float) : 0;
  return floats + payload_bytes <= UINT32_MAX;
}

std::string EncodeRequest(const RequestHeader& h, std::string_view table, const uint64_t* keys,
                          const float* floats, std::string_view payload) {
  RequestHeader header = h;
  header.name_bytes = static_cast<uint32_t>(table.size());
  const size_t float_bytes = floats == nullptr ? 0 : header.num_keys * header.dim * sizeof(float);
  // The payload's size is a 32-bit field: a larger request cannot be encoded
  // (empty: RequestFits says so first).
  if (!RequestFits(header.num_keys, header.dim, floats != nullptr, payload.size())) return "";
  header.payload_bytes = static_cast<uint32_t>(float_bytes + payload.size());
  const size_t name_region = PaddedName(header.name_bytes);
  std::string out(kRequestHeaderBytes + name_region + header.num_keys * 8 + header.payload_bytes,
                  '\0');
  size_t pos = 0;
  Put(&out, &pos, header.magic);
  Put(&out, &pos, header.version);
  Put(&out, &pos, static_cast<uint16_t>(header.type));
  Put(&out, &pos, header.request_id);
  Put(&out, &pos, header.worker);
  Put(&out, &pos, header.step);
  Put(&out, &pos, header.num_keys);
  Put(&out, &pos, header.dim);
  Put(&out, &pos, header.name_bytes);
  Put(&out, &pos, header.payload_bytes);
  Put(&out, &pos, header.reserved);
  pos = kRequestHeaderBytes;
  if (!table.empty()) std::memcpy(&out[pos], table.data(), table.size());
  pos += name_region;
  if (header.num_keys > 0) std::memcpy(&out[pos], keys, header.num_keys * 8);
  pos += header.num_keys * 8;
  if (float_bytes > 0) std::memcpy(&out[pos], floats, float_bytes);
  pos += float_bytes;
  if (!payload.empty()) std::memcpy(&out[pos], payload.data(), payload.size());
  return out;
}

bool PeekRequestId(std::string_view bytes, uint32_t* request_id) {
  if (bytes.size() < 12) return false;
  size_t pos = 0;
  if (Get<uint32_t>(bytes, &pos) != kWireMagic) return false;
  pos = 8;
  *request_id = Get<uint32_t>(bytes, &pos);
  return true;
}

Status DecodeRequest(std::string_view bytes, const WireLimits& limits, RequestView* out) {
  if (bytes.size() < kRequestHeaderBytes) {
    return Status::InvalidArgument("request of " + std::to_string(bytes.size()) +
                                   " bytes is shorter than the " +
                                   std::to_string(kRequestHeaderBytes) + "-byte header");
  }
  RequestHeader& h = out->header;
  size_t pos = 0;
  h.magic = Get<uint32_t>(bytes, &pos);
  h.version = Get<uint16_t>(bytes, &pos);
  const uint16_t type = Get<uint16_t>(bytes, &pos);
  h.request_id = Get<uint32_t>(bytes, &pos);
  h.worker = Get<int32_t>(bytes, &pos);
  h.step = Get<int64_t>(bytes, &pos);
  h.num_keys = Get<uint64_t>(bytes, &pos);
  h.dim = Get<uint32_t>(bytes, &pos);
  h.name_bytes = Get<uint32_t>(bytes, &pos);
  h.payload_bytes = Get<uint32_t>(bytes, &pos);
  h.reserved = Get<uint32_t>(bytes, &pos);
  if (h.magic != kWireMagic) return Status::InvalidArgument("bad magic: not an msrec PS request");
  if (h.version != kWireVersion) {
    return Status::InvalidArgument("wire version " + std::to_string(h.version) +
                                   ", this server speaks " + std::to_string(kWireVersion));
  }
  if (!KnownType(type)) return Status::InvalidArgument("unknown request type " + std::to_string(type));
  h.type = static_cast<RequestType>(type);
  if (h.name_bytes > kMaxTableNameBytes) {
    return Status::InvalidArgument("table name of " + std::to_string(h.name_bytes) +
                                   " bytes (at most " + std::to_string(kMaxTableNameBytes) + ")");
  }
  if (h.num_keys > limits.max_keys) {
    return Status::InvalidArgument(std::to_string(h.num_keys) + " keys in one request (at most " +
                                   std::to_string(limits.max_keys) + ")");
  }
  if (h.dim > kMaxDim) return Status::InvalidArgument("dim " + std::to_string(h.dim) + " too large");
  if (h.type == RequestType::kPush &&
      static_cast<uint64_t>(h.payload_bytes) != h.num_keys * h.dim * sizeof(float)) {
    return Status::InvalidArgument("push of " + std::to_string(h.num_keys) + " keys x dim " +
                                   std::to_string(h.dim) + " carries " +
                                   std::to_string(h.payload_bytes) + " payload bytes");
  }
  const uint64_t expected =
      kRequestHeaderBytes + PaddedName(h.name_bytes) + h.num_keys * 8 + h.payload_bytes;
  if (bytes.size() != expected) {
    return Status::InvalidArgument("request is " + std::to_string(bytes.size()) +
                                   " bytes, its header says " + std::to_string(expected) +
                                   " (truncated or padded)");
  }
  pos = kRequestHeaderBytes;
  out->table = bytes.substr(pos, h.name_bytes);
  pos += PaddedName(h.name_bytes);
  out->keys = reinterpret_cast<const uint64_t*>(bytes.data() + pos);
  pos += h.num_keys * 8;
  out->payload = bytes.substr(pos, h.payload_bytes);
  out->floats = h.type == RequestType::kPush ? reinterpret_cast<const float*>(bytes.data() + pos)
                                             : nullptr;
  return Status::OK();
}

std::string EncodeReply(uint16_t type, uint32_t request_id, const Status& status,
                        const float* floats, uint64_t num_floats, std::string_view text) {
  if (!status.ok()) num_floats = 0;
  const std::string_view message = status.ok() ? text : std::string_view(status.message());
  const size_t message_region = PaddedName(static_cast<uint32_t>(message.size()));
  std::string out(kReplyHeaderBytes + message_region + num_floats * sizeof(float), '\0');
  size_t pos = 0;
  Put(&out, &pos, kWireMagic);
  Put(&out, &pos, kWireVersion);
  Put(&out, &pos, static_cast<uint16_t>(type | 0x100));
  Put(&out, &pos, request_id);
  Put(&out, &pos, static_cast<uint32_t>(status.code()));
  Put(&out, &pos, num_floats);
  Put(&out, &pos, static_cast<uint32_t>(message.size()));
  pos = kReplyHeaderBytes;
  if (!message.empty()) std::memcpy(&out[pos], message.data(), message.size());
  pos += message_region;
  if (num_floats > 0) std::memcpy(&out[pos], floats, num_floats * sizeof(float));
  return out;
}

Status DecodeReply(std::string_view bytes, uint32_t expected_id, uint64_t expected_floats,
                   float* floats, Status* carried, std::string* text) {
  if (bytes.size() < kReplyHeaderBytes) {
    return Status::InvalidArgument("reply of " + std::to_string(bytes.size()) + " bytes");
  }
  size_t pos = 0;
  ReplyHeader h;
  h.magic = Get<uint32_t>(bytes, &pos);
  h.version = Get<uint16_t>(bytes, &pos);
  h.type = Get<uint16_t>(bytes, &pos);
  h.request_id = Get<uint32_t>(bytes, &pos);
  h.status_code = Get<uint32_t>(bytes, &pos);
  h.num_floats = Get<uint64_t>(bytes, &pos);
  h.message_bytes = Get<uint32_t>(bytes, &pos);
  if (h.magic != kWireMagic || h.version != kWireVersion) {
    return Status::InvalidArgument("reply with a bad magic or version");
  }
  // Type 0 | 0x100: the error reply to a request too broken to have a type.
  const uint16_t request_type = static_cast<uint16_t>(h.type & 0xff);
  if ((h.type & 0xfe00) != 0 || (h.type & 0x100) == 0 ||
      (request_type != 0 && !KnownType(request_type))) {
    return Status::InvalidArgument("reply of unknown type " + std::to_string(h.type));
  }
  if (h.num_floats > bytes.size() / 4) {  // also keeps num_floats * 4 from overflowing
    return Status::InvalidArgument("reply claims " + std::to_string(h.num_floats) +
                                   " floats in " + std::to_string(bytes.size()) + " bytes");
  }
  const uint64_t expected = kReplyHeaderBytes + PaddedName(h.message_bytes) + h.num_floats * 4;
  if (bytes.size() != expected) {
    return Status::InvalidArgument("reply is " + std::to_string(bytes.size()) +
                                   " bytes, its header says " + std::to_string(expected));
  }
  if (h.request_id != expected_id) {
    return Status::InvalidArgument("reply to request " + std::to_string(h.request_id) +
                                   " where " + std::to_string(expected_id) + " was expected");
  }
  const std::string message(bytes.substr(kReplyHeaderBytes, h.message_bytes));
  *carried = h.status_code == 0 ? Status::OK() : StatusFromCode(h.status_code, message);
  if (!carried->ok()) return Status::OK();
  if (text != nullptr) text->assign(bytes.substr(kReplyHeaderBytes, h.message_bytes));
  if (h.num_floats != expected_floats) {
    return Status::InvalidArgument("reply carries " + std::to_string(h.num_floats) +
                                   " floats, " + std::to_string(expected_floats) + " expected");
  }
  if (h.num_floats > 0) {
    std::memcpy(floats, bytes.data() + kReplyHeaderBytes + PaddedName(h.message_bytes),
                h.num_floats * 4);
  }
  return Status::OK();
}

std::string EncodeTableConfig(const TableConfig& c) {
  std::ostringstream s;
  s.precision(9);
  const SparseOptimizerConfig& o = c.optimizer;
  s << "dim=" << c.dim << ";init_scale=" << c.init_scale << ";seed=" << c.seed
    << ";optimizer=" << static_cast<int>(o.kind) << ";lr=" << o.learning_rate
    << ";beta1=" << o.beta1 << ";beta2=" << o.beta2 << ";epsilon=" << o.epsilon
    << ";initial_accumulator=" << o.initial_accumulator << ";weight_decay=" << o.weight_decay
    << ";ftrl_beta=" << o.ftrl_beta << ";ftrl_l1=" << o.ftrl_l1 << ";ftrl_l2=" << o.ftrl_l2
    << ";admit_after=" << c.admit_after << ";admission_capacity=" << c.admission_capacity
    << ";ttl_steps=" << c.ttl_steps;
  return s.str();
}

namespace {

// A whole decimal integer, nothing else ("1e3", "0x10", "2.9", " 7" fail);
// a sign only where `allow_negative`.
bool ParseInteger(const std::string& s, bool allow_negative, int64_t* v) {
  const char* begin = s.data();
  const char* end = begin + s.size();
  if (s.empty() || (!allow_negative && s[0] == '-')) return false;
  auto [ptr, ec] = std::from_chars(begin, end, *v);
  return ec == std::errc() && ptr == end;
}

bool ParseUnsigned(const std::string& s, uint64_t* v) {
  const char* end = s.data() + s.size();
  if (s.empty() || s[0] == '-' || s[0] == '+') return false;
  auto [ptr, ec] = std::from_chars(s.data(), end, *v);
  return ec == std::errc() && ptr == end;
}

Status BadValue(const std::string& key, const std::string& value, const char* expected) {
  return Status::InvalidArgument("table config '" + key + "': '" + value + "' is not " + expected);
}

// One integer item; false when `key` is not an integer key.
bool DecodeIntegerItem(const std::string& key, const std::string& value, TableConfig* c,
                       Status* status) {
  int64_t v = 0;
  uint64_t u = 0;
  if (key == "seed" || key == "admission_capacity") {
    if (!ParseUnsigned(value, &u)) {
      *status = BadValue(key, value, "an unsigned integer");
    } else if (key == "seed") {
      c->seed = u;
    } else if (u == 0 || u > (uint64_t{1} << 32)) {
      *status = BadValue(key, value, "in [1, 2^32]");
    } else {
      c->admission_capacity = u;
    }
    return true;
  }
  if (key != "dim" && key != "optimizer" && key != "admit_after" && key != "ttl_steps") return false;
  if (!ParseInteger(value, /*allow_negative=*/false, &v)) {
    *status = BadValue(key, value, "a non-negative integer");
  } else if (key == "dim") {
    if (v < 1 || v > kMaxTableDim) *status = BadValue(key, value, "in [1, 4096]");
    else c->dim = static_cast<int>(v);
  } else if (key == "optimizer") {
    if (v > static_cast<int64_t>(SparseOptimizerKind::kFtrl)) *status = BadValue(key, value, "a sparse optimizer (0..4)");
    else c->optimizer.kind = static_cast<SparseOptimizerKind>(v);
  } else if (key == "admit_after") {
    if (v < 1 || v > (int64_t{1} << 30)) *status = BadValue(key, value, "in [1, 2^30]");
    else c->admit_after = static_cast<int>(v);
  } else {
    c->ttl_steps = v;
  }
  return true;
}

}  // namespace

Status DecodeTableConfig(std::string_view text, TableConfig* c) {
  SparseOptimizerConfig& o = c->optimizer;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(';', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view item = text.substr(start, end - start);
    start = end + 1;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument("table config item '" + std::string(item) + "' has no '='");
    }
    const std::string key(item.substr(0, eq));
    const std::string value(item.substr(eq + 1));
    Status status;
    if (DecodeIntegerItem(key, value, c, &status)) {
      MSREC_RETURN_IF_ERROR(status);
      continue;
    }
    char* rest = nullptr;
    const double v = std::strtod(value.c_str(), &rest);
    if (value.empty() || *rest != '\0' || !std::isfinite(v) || std::fabs(v) > 1e30) {
      return BadValue(key, value, "a finite number");
    }
    const float f = static_cast<float>(v);
    if (key == "init_scale") c->init_scale = f;
    else if (key == "lr") o.learning_rate = f;
    else if (key == "beta1") o.beta1 = f;
    else if (key == "beta2") o.beta2 = f;
    else if (key == "epsilon") o.epsilon = f;
    else if (key == "initial_accumulator") o.initial_accumulator = f;
    else if (key == "weight_decay") o.weight_decay = f;
    else if (key == "ftrl_beta") o.ftrl_beta = f;
    else if (key == "ftrl_l1") o.ftrl_l1 = f;
    else if (key == "ftrl_l2") o.ftrl_l2 = f;
    else return Status::InvalidArgument("unknown table config key '" + key + "'");
  }
  return Status::OK();
}

}  // namespace msrec
