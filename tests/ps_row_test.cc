// Row encoding: round trip, byte layout, and corruption detection.
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "parameter_server/internal/row.h"

namespace msrec {
namespace {

Row SampleRow() {
  Row row;
  row.kind = SparseOptimizerKind::kAdagrad;
  row.weights = {0.5f, -1.25f, 3.0f};
  row.state = {0.1f, 0.2f, 0.3f};
  row.frequency = 42;
  row.last_step = 1234567890123LL;
  return row;
}

TEST(RowTest, RoundTrip) {
  const Row row = SampleRow();
  std::string bytes;
  EncodeRow(row, &bytes);
  ASSERT_EQ(bytes.size(), RowBytes(3, 3));
  ASSERT_EQ(bytes.size(), 12u + 4 * 6 + 16);
  Row back;
  ASSERT_TRUE(DecodeRow(bytes, "emb", 7, &back).ok());
  EXPECT_EQ(back.kind, row.kind);
  EXPECT_EQ(back.weights, row.weights);
  EXPECT_EQ(back.state, row.state);
  EXPECT_EQ(back.frequency, 42u);
  EXPECT_EQ(back.last_step, 1234567890123LL);
}

TEST(RowTest, ByteLayout) {
  std::string bytes;
  EncodeRow(SampleRow(), &bytes);
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), kRowFormatVersion);
  EXPECT_EQ(static_cast<uint8_t>(bytes[1]), 1);  // adagrad
  EXPECT_EQ(bytes[2], 0);
  EXPECT_EQ(bytes[3], 0);
  uint32_t dim, state;
  std::memcpy(&dim, bytes.data() + 4, 4);
  std::memcpy(&state, bytes.data() + 8, 4);
  EXPECT_EQ(dim, 3u);
  EXPECT_EQ(state, 3u);
  float w1;
  std::memcpy(&w1, bytes.data() + 12 + 4, 4);
  EXPECT_EQ(w1, -1.25f);
  uint64_t freq;
  std::memcpy(&freq, bytes.data() + 12 + 24, 8);
  EXPECT_EQ(freq, 42u);
}

TEST(RowTest, LayoutReadWrite) {
  RowLayout layout(SparseOptimizerKind::kSgd, 2, 0);
  const float w[] = {1.5f, -2.5f};
  std::string bytes;
  layout.Write(w, nullptr, 3, 9, &bytes);
  ASSERT_TRUE(layout.Check(bytes, "emb", 1).ok());
  float out[2];
  uint64_t freq = 0;
  int64_t step = 0;
  layout.Read(bytes, out, nullptr, &freq, &step);
  EXPECT_EQ(out[0], 1.5f);
  EXPECT_EQ(out[1], -2.5f);
  EXPECT_EQ(freq, 3u);
  EXPECT_EQ(step, 9);
}

void ExpectCorruption(const Status& s, const std::string& what) {
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("table 'clicks'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("key 99"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(what), std::string::npos) << s.message();
}

TEST(RowTest, DetectsCorruption) {
  std::string good;
  EncodeRow(SampleRow(), &good);
  Row row;

  std::string truncated = good.substr(0, good.size() - 1);
  ExpectCorruption(DecodeRow(truncated, "clicks", 99, &row), "bytes");
  ExpectCorruption(DecodeRow("abc", "clicks", 99, &row), "shorter");

  std::string wrong_version = good;
  wrong_version[0] = 2;
  ExpectCorruption(DecodeRow(wrong_version, "clicks", 99, &row), "version 2");

  std::string wrong_kind = good;
  wrong_kind[1] = 9;
  ExpectCorruption(DecodeRow(wrong_kind, "clicks", 99, &row), "kind 9");

  RowLayout adagrad3(SparseOptimizerKind::kAdagrad, 3, 3);
  EXPECT_TRUE(adagrad3.Check(good, "clicks", 99).ok());
  ExpectCorruption(adagrad3.Check(truncated, "clicks", 99), "bytes");
  ExpectCorruption(adagrad3.Check(wrong_version, "clicks", 99), "version");
  RowLayout adam3(SparseOptimizerKind::kAdam, 3, 7);
  ExpectCorruption(adam3.Check(good, "clicks", 99), "optimizer kind");
  RowLayout adagrad4(SparseOptimizerKind::kAdagrad, 4, 4);
  ExpectCorruption(adagrad4.Check(good, "clicks", 99), "dim");
}

}  // namespace
}  // namespace msrec
