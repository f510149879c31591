// Smoke test on the real MovieLens-100K CTR sample (see ../shared/data/README.md).
// Skips when the shared data folder is absent.
#include <sys/stat.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "tests/data_test_util.h"
#include "trainer/data/reader.h"
#include "trainer/data/shard.h"

namespace msrec {
namespace {

std::string MovieLensDir() {
  const char* env = std::getenv("MSREC_SHARED_DATA");
  const std::string base = env != nullptr ? env : "../shared/data";
  return base + "/movielens-100k/ctr";
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

TEST(MovieLensTest, ReadsAllSplitsWithoutBadRows) {
  const std::string dir = MovieLensDir();
  if (!Exists(dir + "/train.csv")) {
    GTEST_SKIP() << "MovieLens-100K sample not found at " << dir
                 << " (set MSREC_SHARED_DATA to the shared/data folder)";
  }
  const std::vector<std::string> files = {dir + "/train.csv", dir + "/val.csv", dir + "/test.csv"};
  ReaderOptions o = testing::Options("label:label,scenario:scenario,genres:multi:|,*:cat");
  o.max_bad_rows = 0;
  o.num_threads = 2;
  auto map = ScenarioMap::Scan(files, o.schema);
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_GE(map->size(), 2);
  o.scenario_map = &map.value();
  auto reader = OpenReader(files, o);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const Schema& schema = (*reader)->schema();
  EXPECT_EQ(schema.num_cat_fields(), 11);
  EXPECT_EQ(schema.num_labels(), 1);
  std::vector<Batch> batches;
  ASSERT_TRUE(testing::ReadAll(reader->get(), &batches).ok());
  const ReaderStats s = (*reader)->stats();
  EXPECT_EQ(s.rows_ok, 100000);
  EXPECT_EQ(s.total_bad(), 0);
  double clicks = 0;
  int64_t genre_keys = 0;
  for (const Batch& b : batches) {
    for (float l : b.labels) clicks += l;
    for (int64_t i = 0; i < b.size; ++i) {
      const int64_t f = 8;  // genres is the 9th categorical field
      genre_keys += b.offsets[i * 11 + f + 1] - b.offsets[i * 11 + f];
    }
  }
  EXPECT_GT(clicks, 0);
  EXPECT_LT(clicks, 100000);
  EXPECT_GT(genre_keys, 100000);  // several genres per movie on average
  std::printf("movielens rows=%ld ctr=%.4f scenarios=%d %s\n", long(s.rows_ok), clicks / 1e5,
              map->size(), s.ToString().c_str());

  // Converted to a shard, the same rows come back.
  testing::TempDir tmp;
  ASSERT_TRUE(ConvertToShards({files[0]}, o, tmp.File("train.shard")).ok());
  auto shard = OpenReader({tmp.File("train.shard")}, o);
  ASSERT_TRUE(shard.ok()) << shard.status().ToString();
  std::vector<Batch> from_shard;
  ASSERT_TRUE(testing::ReadAll(shard->get(), &from_shard).ok());
  EXPECT_EQ((*shard)->stats().rows_ok, 80000);
  EXPECT_EQ(from_shard[0].keys, batches[0].keys);
}

}  // namespace
}  // namespace msrec
