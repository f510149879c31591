#include <fstream>

#include <gtest/gtest.h>

#include "tests/data_test_util.h"
#include "trainer/data/generator.h"
#include "trainer/data/shard.h"

namespace msrec {
namespace {

using testing::Concat;
using testing::ReadAll;
using testing::TempDir;

void ExpectSameRows(const Batch& a, const Batch& b) {
  ASSERT_EQ(a.size, b.size);
  EXPECT_EQ(a.num_cat_fields, b.num_cat_fields);
  EXPECT_EQ(a.keys, b.keys);
  EXPECT_EQ(a.offsets, b.offsets);
  EXPECT_EQ(a.dense, b.dense);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.scenario, b.scenario);
  EXPECT_EQ(a.instance_id, b.instance_id);
  EXPECT_EQ(a.oracle, b.oracle);
  EXPECT_EQ(a.record, b.record);
}

class ShardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GeneratorOptions g;
    g.num_rows = 5000;
    g.num_fields = 4;
    ASSERT_TRUE(GenerateCsv(g, {{dir_.File("a.csv"), 3000}, {dir_.File("b.csv.gz"), 2000}}).ok());
    options_ = testing::Options(SyntheticModel(g).SchemaSpecString());
    options_.batch_size = 256;
    options_.num_threads = 2;
  }

  Batch ReadAllRows(const std::vector<std::string>& paths, const ReaderOptions& o,
                    Status* st = nullptr) {
    auto reader = OpenReader(paths, o);
    if (!reader.ok()) {
      if (st) *st = reader.status();
      EXPECT_TRUE(st != nullptr) << reader.status().ToString();
      return Batch();
    }
    std::vector<Batch> batches;
    Status s = ReadAll(reader->get(), &batches);
    if (st) {
      *st = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    return Concat(batches);
  }

  TempDir dir_;
  ReaderOptions options_;
};

TEST_F(ShardTest, RoundTripGivesIdenticalBatches) {
  const std::vector<std::string> csv = {dir_.File("a.csv"), dir_.File("b.csv.gz")};
  ScenarioMap map = *ScenarioMap::Scan(csv, options_.schema);
  ReaderOptions o = options_;
  o.scenario_map = &map;
  const Batch want = ReadAllRows(csv, o);
  ASSERT_EQ(want.size, 5000);
  ReaderStats stats;
  ASSERT_TRUE(ConvertToShards(csv, options_, dir_.File("all.shard"), 700, &stats).ok());
  EXPECT_EQ(stats.rows_ok, 5000);
  auto layout = ReadShardLayout(dir_.File("all.shard"));
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->scenarios, map.values());
  EXPECT_TRUE(*IsShardFile(dir_.File("all.shard")));
  EXPECT_EQ(ScenarioMap::Scan({dir_.File("all.shard")}, options_.schema)->values(), map.values());
  EXPECT_FALSE(*IsShardFile(dir_.File("a.csv")));

  // Same map, and the reader's own (embedded) map.
  ExpectSameRows(ReadAllRows({dir_.File("all.shard")}, o), want);
  ReaderOptions plain;
  plain.batch_size = 333;
  auto reader = OpenReader({dir_.File("all.shard")}, plain);
  ASSERT_TRUE(reader.ok());
  std::vector<Batch> batches;
  ASSERT_TRUE(ReadAll(reader->get(), &batches).ok());
  ExpectSameRows(Concat(batches), want);
  EXPECT_EQ(batches[0].size, 333);
  EXPECT_EQ((*reader)->schema().ToString(), layout->schema.ToString());
  EXPECT_EQ((*reader)->scenario_map().values(), map.values());
  EXPECT_EQ((*reader)->stats().rows_ok, 5000);
  EXPECT_DOUBLE_EQ((*reader)->Progress(), 1.0);

  // Parts: blocks dealt round-robin cover every row once.
  std::vector<int64_t> seen;
  for (int part = 0; part < 3; ++part) {
    ReaderOptions p = o;
    p.num_parts = 3;
    p.part_index = part;
    Batch b = ReadAllRows({dir_.File("all.shard")}, p);
    seen.insert(seen.end(), b.record.begin(), b.record.end());
  }
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), 5000u);
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(seen[i], i);
}

TEST_F(ShardTest, SchemaMismatchIsAnError) {
  ASSERT_TRUE(ConvertToShards({dir_.File("a.csv")}, options_, dir_.File("a.shard")).ok());
  ReaderOptions o = testing::Options("label:label,scenario:scenario,*:cat");
  auto reader = OpenReader({dir_.File("a.shard")}, o);
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find("differs"), std::string::npos);
  reader = OpenReader({dir_.File("a.shard"), dir_.File("a.csv")}, options_);
  EXPECT_FALSE(reader.ok());
}

TEST_F(ShardTest, FixedMapMakesUnknownScenariosBadRows) {
  ASSERT_TRUE(ConvertToShards({dir_.File("a.csv")}, options_, dir_.File("a.shard")).ok());
  ScenarioMap map = ScenarioMap::FromValues({"0", "1"});
  ReaderOptions o = options_;
  o.scenario_map = &map;
  o.max_bad_rows = -1;
  auto reader = OpenReader({dir_.File("a.shard")}, o);
  ASSERT_TRUE(reader.ok());
  std::vector<Batch> batches;
  ASSERT_TRUE(ReadAll(reader->get(), &batches).ok());
  const ReaderStats s = (*reader)->stats();
  EXPECT_GT(s.rows_bad[int(BadRowKind::kUnknownScenario)], 0);
  EXPECT_EQ(s.rows_ok + s.total_bad(), 3000);
  for (const Batch& b : batches) {
    for (int32_t id : b.scenario) EXPECT_LT(id, 2);
  }
}

class ShardCorruptionTest : public ShardTest {
 protected:
  void SetUp() override {
    ShardTest::SetUp();
    path_ = dir_.File("c.shard");
    ASSERT_TRUE(ConvertToShards({dir_.File("a.csv")}, options_, path_, 500).ok());
    bytes_ = testing::ReadFileBytes(path_);
  }
  Status ReadDamaged(const std::string& bytes) {
    testing::WriteFile(path_, bytes);
    Status st;
    ReadAllRows({path_}, options_, &st);
    return st;
  }
  std::string path_;
  std::string bytes_;
};

TEST_F(ShardCorruptionTest, TruncationIsDetected) {
  for (size_t cut : {bytes_.size() - 1, bytes_.size() - 40, bytes_.size() / 2, size_t{30}}) {
    const Status st = ReadDamaged(bytes_.substr(0, cut));
    EXPECT_EQ(st.code(), Status::Code::kCorruption) << cut << ": " << st.ToString();
    EXPECT_NE(st.message().find("c.shard"), std::string::npos) << st.ToString();
  }
  // Cut exactly at a block boundary: the end block is missing.
  const Status st = ReadDamaged(bytes_.substr(0, bytes_.size() - 24 - 16));
  EXPECT_EQ(st.code(), Status::Code::kCorruption) << st.ToString();
  EXPECT_NE(st.message().find("no end block"), std::string::npos) << st.ToString();
}

TEST_F(ShardCorruptionTest, FlippedBytesAreDetected) {
  int detected = 0;
  // (The magic bytes are left alone: without them the file is not a shard.)
  for (size_t pos = 8; pos < bytes_.size(); pos += bytes_.size() / 37) {
    std::string damaged = bytes_;
    damaged[pos] ^= 0x10;
    const Status st = ReadDamaged(damaged);
    EXPECT_EQ(st.code(), Status::Code::kCorruption) << pos << ": " << st.ToString();
    detected += st.code() == Status::Code::kCorruption;
  }
  EXPECT_GT(detected, 30);
  std::string damaged = bytes_;
  damaged[bytes_.size() / 2] ^= 1;
  const Status st = ReadDamaged(damaged);
  EXPECT_NE(st.message().find("block "), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("at offset"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace msrec
