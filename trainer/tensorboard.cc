#include "trainer/tensorboard.h"

#include <unistd.h>

#include <chrono>
#include <cstring>

#include "common/file_util.h"
#include "common/hash.h"

namespace msrec {
namespace {

uint32_t MaskedCrc(const void* data, size_t n) {
  const uint32_t crc = Crc32c(data, n);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(char(v | 0x80));
    v >>= 7;
  }
  out->push_back(char(v));
}

template <typename T>
void PutFixed(T v, std::string* out) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));  // little endian (x86-64, aarch64)
  out->append(bytes, sizeof(T));
}

void PutBytes(int field, const std::string& bytes, std::string* out) {
  PutVarint(uint64_t(field) << 3 | 2, out);
  PutVarint(bytes.size(), out);
  out->append(bytes);
}

std::string EventHeader(double wall_time, int64_t step) {
  std::string e;
  PutVarint(1 << 3 | 1, &e);
  PutFixed(wall_time, &e);
  PutVarint(2 << 3 | 0, &e);
  PutVarint(uint64_t(step), &e);
  return e;
}

// A protobuf reader over one message: just what events need.
class Fields {
 public:
  explicit Fields(const std::string& bytes) : p_(bytes.data()), end_(p_ + bytes.size()) {}
  // The next field: false at the end; Corruption on a malformed one.
  Result<bool> Next(int* field, int* wire, uint64_t* varint, std::string* bytes) {
    if (p_ == end_) return false;
    uint64_t key;
    MSREC_RETURN_IF_ERROR(Varint(&key));
    *field = int(key >> 3);
    *wire = int(key & 7);
    if (*wire == 0) return Varint(varint).ok() ? Result<bool>(true) : Bad();
    size_t n = *wire == 1 ? 8 : *wire == 5 ? 4 : 0;
    if (*wire == 2) {
      uint64_t len;
      MSREC_RETURN_IF_ERROR(Varint(&len));
      n = size_t(len);
    } else if (n == 0) {
      return Bad();
    }
    if (size_t(end_ - p_) < n) return Bad();
    bytes->assign(p_, n);
    p_ += n;
    return true;
  }

 private:
  Status Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
      const uint8_t b = uint8_t(*p_++);
      *v |= uint64_t(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return Status::OK();
    }
    return Status::Corruption("malformed varint in an event");
  }
  Result<bool> Bad() { return Status::Corruption("malformed field in an event"); }

  const char* p_;
  const char* end_;
};

}  // namespace

Result<std::unique_ptr<EventWriter>> EventWriter::Open(const std::string& dir) {
  MSREC_RETURN_IF_ERROR(MakeDirs(dir).WithContext("--tensorboard_dir"));
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  const std::string path = dir + "/events.out.tfevents." +
                           std::to_string(static_cast<int64_t>(Now())) + "." + host + "." +
                           std::to_string(getpid());
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return Status::IoError("cannot create " + path + ": " + std::strerror(errno));
  std::unique_ptr<EventWriter> writer(new EventWriter(path, file));
  std::string version = EventHeader(Now(), 0);
  PutBytes(3, "brain.Event:2", &version);
  MSREC_RETURN_IF_ERROR(writer->WriteRecord(version));
  MSREC_RETURN_IF_ERROR(writer->Flush());
  return writer;
}

EventWriter::~EventWriter() { std::fclose(file_); }

Status EventWriter::WriteRecord(const std::string& event) {
  std::string record;
  PutFixed(uint64_t(event.size()), &record);
  PutFixed(MaskedCrc(record.data(), 8), &record);
  record += event;
  PutFixed(MaskedCrc(event.data(), event.size()), &record);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size()) {
    return Status::IoError("writing " + path_ + " failed (disk full?)");
  }
  return Status::OK();
}

Status EventWriter::AddScalar(const std::string& tag, int64_t step, double value) {
  std::string v;
  PutBytes(1, tag, &v);
  PutVarint(2 << 3 | 5, &v);
  PutFixed(static_cast<float>(value), &v);
  std::string summary;
  PutBytes(1, v, &summary);
  std::string event = EventHeader(Now(), step);
  PutBytes(5, summary, &event);
  return WriteRecord(event);
}

Status EventWriter::Flush() {
  if (std::fflush(file_) != 0) return Status::IoError("flushing " + path_ + " failed");
  return Status::OK();
}

Result<std::vector<ScalarEvent>> ReadScalarEvents(const std::string& path, std::string* version) {
  MSREC_ASSIGN_OR_RETURN(std::string data, ReadFile(path));
  std::vector<ScalarEvent> out;
  size_t at = 0;
  for (int record = 0; at < data.size(); ++record) {
    const std::string where = path + ": record " + std::to_string(record);
    if (data.size() - at < 12) return Status::Corruption(where + " is cut short");
    uint64_t len;
    uint32_t len_crc, data_crc;
    std::memcpy(&len, data.data() + at, 8);
    std::memcpy(&len_crc, data.data() + at + 8, 4);
    if (len_crc != MaskedCrc(data.data() + at, 8)) return Status::Corruption(where + ": bad length CRC");
    if (data.size() - at - 12 < len + 4) return Status::Corruption(where + " is cut short");
    const std::string event = data.substr(at + 12, len);
    std::memcpy(&data_crc, data.data() + at + 12 + len, 4);
    if (data_crc != MaskedCrc(event.data(), event.size())) return Status::Corruption(where + ": bad CRC");
    at += 12 + len + 4;
    ScalarEvent base;
    std::vector<std::string> values;
    Fields fields(event);
    int field, wire;
    uint64_t varint;
    std::string bytes;
    while (true) {
      MSREC_ASSIGN_OR_RETURN(bool more, fields.Next(&field, &wire, &varint, &bytes));
      if (!more) break;
      if (field == 1 && wire == 1) std::memcpy(&base.wall_time, bytes.data(), 8);
      else if (field == 2 && wire == 0) base.step = int64_t(varint);
      else if (field == 3 && wire == 2 && version != nullptr) *version = bytes;
      else if (field == 5 && wire == 2) {
        Fields summary(bytes);
        std::string value;
        while (true) {
          MSREC_ASSIGN_OR_RETURN(bool more_values, summary.Next(&field, &wire, &varint, &value));
          if (!more_values) break;
          if (field == 1 && wire == 2) values.push_back(value);
        }
      }
    }
    for (const std::string& value : values) {
      ScalarEvent e = base;
      Fields v(value);
      std::string b;
      while (true) {
        MSREC_ASSIGN_OR_RETURN(bool more, v.Next(&field, &wire, &varint, &b));
        if (!more) break;
        if (field == 1 && wire == 2) e.tag = b;
        else if (field == 2 && wire == 5) std::memcpy(&e.value, b.data(), 4);
      }
      out.push_back(e);
    }
  }
  return out;
}

}  // namespace msrec
