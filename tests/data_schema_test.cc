#include <gtest/gtest.h>

#include "common/hash.h"
#include "tests/data_test_util.h"
#include "trainer/data/scenario_map.h"
#include "trainer/data/schema.h"

namespace msrec {
namespace {

using testing::TempDir;
using testing::WriteFile;

const std::vector<std::string> kHeader = {"label",   "scenario", "user_id",
                                          "item_id", "genres",   "price"};

TEST(SchemaTest, ParsesAndResolves) {
  auto spec = SchemaSpec::Parse("label:label, scenario:scenario,genres:multi:|,price:dense,*:cat");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  auto schema = Schema::Resolve(*spec, kHeader, "x.csv");
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  EXPECT_EQ(schema->num_cat_fields(), 3);
  EXPECT_EQ(schema->num_dense(), 1);
  EXPECT_EQ(schema->num_labels(), 1);
  EXPECT_EQ(schema->scenario_name(), "scenario");
  EXPECT_EQ(schema->CatFieldNames(), (std::vector<std::string>{"user_id", "item_id", "genres"}));
  EXPECT_EQ(schema->columns()[2].seed, FieldSeed("user_id"));
  EXPECT_EQ(schema->columns()[4].kind, ColumnKind::kMulti);
  EXPECT_EQ(schema->columns()[4].separator, '|');
  EXPECT_FALSE(schema->has_id());
  EXPECT_EQ(schema->ToString(),
            "label:label,scenario:scenario,user_id:cat,item_id:cat,genres:multi:|,price:dense");
}

TEST(SchemaTest, ToStringRoundTrips) {
  auto spec = SchemaSpec::Parse(
      "click:label,buy:label,s:scenario,id:id,p:oracle,t:multi:comma,x:multi:;,*:ignore");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(SchemaSpec::Parse(spec->ToString())->ToString(), spec->ToString());
  std::vector<std::string> header = {"id", "s", "click", "buy", "p", "t", "x", "junk"};
  auto schema = Schema::Resolve(*spec, header, "f");
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  auto again = Schema::FromString(schema->ToString());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->ToString(), schema->ToString());
  EXPECT_EQ(again->Fingerprint(), schema->Fingerprint());
  EXPECT_EQ(again->columns()[5].separator, ',');
  EXPECT_EQ(schema->num_labels(), 2);
  EXPECT_TRUE(schema->has_id());
  EXPECT_TRUE(schema->has_oracle());
  EXPECT_EQ(schema->num_cat_fields(), 2);
  // A different schema has a different fingerprint.
  auto other = Schema::Resolve(*SchemaSpec::Parse("*:cat,click:label,s:scenario"), header, "f");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->Fingerprint(), schema->Fingerprint());
}

TEST(SchemaTest, Errors) {
  auto check = [](const std::string& spec, const std::string& needle) {
    Status st;
    auto parsed = SchemaSpec::Parse(spec);
    if (!parsed.ok()) {
      st = parsed.status();
    } else {
      auto schema = Schema::Resolve(*parsed, kHeader, "data.csv");
      ASSERT_FALSE(schema.ok()) << spec;
      st = schema.status();
    }
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << spec;
    EXPECT_NE(st.message().find(needle), std::string::npos) << spec << " -> " << st.ToString();
  };
  check("label:label,scenario:scenario,nope:cat,*:cat", "'nope' is not in the header of data.csv");
  check("label:label,scenario:scenario", "'user_id' is not in the schema");
  check("label:label,*:cat", "no scenario column");
  check("scenario:scenario,*:cat", "no label column");
  check("label:label,scenario:scenario,user_id:scenario,*:cat", "more than one scenario");
  check("label:label,scenario:scenario,genres:bogus,*:cat", "unknown kind 'bogus'");
  check("label:label,scenario:scenario,genres:cat:|,*:cat", "only 'multi' takes an argument");
  check("label:label,scenario:scenario,genres:multi:xx,*:cat", "separator");
  check("label,scenario:scenario", "column:kind");
  check("label:label,label:label", "twice");
  check("", "empty");
}

TEST(SchemaTest, LoadsSchemaFile) {
  TempDir dir;
  WriteFile(dir.File("schema.txt"),
            "# MovieLens CTR\nlabel:label\nscenario:scenario  # the scenario\n\n"
            "genres:multi:|\n*:cat\n");
  auto spec = SchemaSpec::LoadFile(dir.File("schema.txt"));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->ToString(), "label:label,scenario:scenario,genres:multi:|,*:cat");
  WriteFile(dir.File("bad.txt"), "label:label\nx:wat\n");
  auto bad = SchemaSpec::LoadFile(dir.File("bad.txt"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.txt"), std::string::npos);
  EXPECT_EQ(SchemaSpec::LoadFile(dir.File("missing.txt")).status().code(), Status::Code::kIoError);
}

TEST(ScenarioMapTest, NumericAwareOrder) {
  ScenarioMap map = ScenarioMap::FromValues({"10", "2", "b", "1", "a", "2"});
  EXPECT_EQ(map.values(), (std::vector<std::string>{"1", "2", "10", "a", "b"}));
  EXPECT_EQ(map.Find("10"), 2);
  EXPECT_EQ(map.Find("zz"), -1);
  EXPECT_TRUE(map.fixed());
  EXPECT_EQ(map.FindOrAdd("zz"), -1);
  map.set_fixed(false);
  EXPECT_EQ(map.FindOrAdd("zz"), 5);
  EXPECT_EQ(map.size(), 6);
}

TEST(ScenarioMapTest, SaveLoadAndErrors) {
  TempDir dir;
  ScenarioMap map = ScenarioMap::FromValues({"app", "web", "3"});
  ASSERT_TRUE(map.Save(dir.File("m.tsv")).ok());
  EXPECT_EQ(testing::ReadFileBytes(dir.File("m.tsv")), "3\t0\napp\t1\nweb\t2\n");
  auto loaded = ScenarioMap::Load(dir.File("m.tsv"));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->values(), map.values());
  EXPECT_TRUE(loaded->fixed());

  WriteFile(dir.File("gap.tsv"), "a\t0\nb\t2\n");
  auto gap = ScenarioMap::Load(dir.File("gap.tsv"));
  ASSERT_FALSE(gap.ok());
  EXPECT_NE(gap.status().message().find("gap.tsv:2: scenario id 2 leaves a gap"), std::string::npos)
      << gap.status().ToString();
  WriteFile(dir.File("twice.tsv"), "a\t0\nb\t1\n\nb\t2\n");
  auto twice = ScenarioMap::Load(dir.File("twice.tsv"));
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("twice.tsv:4: scenario value 'b' appears twice (also on line 2)"),
            std::string::npos) << twice.status().ToString();
  WriteFile(dir.File("same_id.tsv"), "a\t0\nb\t0\n");
  auto same_id = ScenarioMap::Load(dir.File("same_id.tsv"));
  ASSERT_FALSE(same_id.ok());
  EXPECT_NE(same_id.status().message().find("same_id.tsv:2: scenario id 0 again (first on line 1)"),
            std::string::npos) << same_id.status().ToString();
  WriteFile(dir.File("syntax.tsv"), "a\t0\nb x\n");
  auto syntax = ScenarioMap::Load(dir.File("syntax.tsv"));
  ASSERT_FALSE(syntax.ok());
  EXPECT_NE(syntax.status().message().find("syntax.tsv:2"), std::string::npos);
  EXPECT_EQ(ScenarioMap::Load(dir.File("none.tsv")).status().code(), Status::Code::kIoError);
}

TEST(ScenarioMapTest, ScanFindsEveryValue) {
  TempDir dir;
  WriteFile(dir.File("a.csv"), "label,scenario,x\n1,10,a\n0,2,b\n0,2,c\n");
  testing::WriteGzip(dir.File("b.csv.gz"), "scenario\tlabel\tx\n\"1\"\t0\tq\n9\t1\tr\n");
  auto map = ScenarioMap::Scan({dir.File("a.csv"), dir.File("b.csv.gz")},
                               *SchemaSpec::Parse("label:label,scenario:scenario,*:cat"));
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_EQ(map->values(), (std::vector<std::string>{"1", "2", "9", "10"}));
}

// Issue 17: rows the reader rejects add no scenario to a scanned map.
TEST(ScenarioMapTest, RejectedRowsAddNoScenario) {
  testing::TempDir dir;
  testing::WriteFile(dir.File("r.csv"),
                     "scenario,label,d,x\n"
                     "a,1,0.5,q\n"
                     "b,0,1.5,q\n"
                     "zzz,7,0.5,q\n"     // bad label
                     "yyy,1,abc,q\n"     // bad number
                     "xxx,1,0.5\n"       // column count
                     "b,1,2.5,q\n");
  auto spec = SchemaSpec::Parse("scenario:scenario,label:label,d:dense,x:cat");
  ASSERT_TRUE(spec.ok());
  auto map = ScenarioMap::Scan({dir.File("r.csv")}, *spec);
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_EQ(map->values(), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace msrec
