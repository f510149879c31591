// Checkpoints with real processes: a job killed with SIGKILL (single process;
// a worker and a server of 2 workers + 2 servers) and resumed ends bitwise
// like the uninterrupted job (--deterministic); resume onto another server
// count; a damaged checkpoint is detected; SIGTERM checkpoints and exits 0.
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/file_util.h"
#include "parameter_server/memory_store.h"
#include "parameter_server/internal/row.h"
#include "tests/job_test_util.h"
#include "tests/process_util.h"
#include "trainer/checkpoint.h"
#include "trainer/data/generator.h"

#ifndef MSREC_BINARY
#error "MSREC_BINARY must name the msrec executable"
#endif

namespace msrec {
namespace {

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    flags_ = MakeJobData("msrec_ckpt", 17, 30000, &dir_) +
             " --model mt_backbone --hidden 32,16 --epochs 2 --batch_size 256 --log_every 1000"
             " --deterministic --checkpoint_every_steps 10 --ps_timeout_s 10 --comm_timeout_s 10";
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(dir_).ok()); }

  std::string Single(const std::string& model) const {
    return MSREC_BINARY " train" + flags_ + " --model_dir " + dir_ + "/" + model;
  }
  std::string Mpi(const std::string& model, int servers) const {
    return "timeout 200 mpirun --allow-run-as-root --oversubscribe -np " +
           std::to_string(2 + servers) + " " MSREC_BINARY " train" + flags_ +
           " --data_sharding batches --num_servers " + std::to_string(servers) + " --model_dir " +
           dir_ + "/" + model;
  }
  // Runs `command`, kills `rank` of it (-1: the single process) with
  // `signal` once checkpoint step 40 is complete; returns the exit code.
  int RunAndSignal(const std::string& command, const std::string& model, int rank, int signal,
                   std::string* out) {
    std::thread killer([&] {
      EXPECT_TRUE(SignalWhenExists(dir_ + "/" + model + "/checkpoints/ckpt-0000000040/MANIFEST",
                                   "--model_dir " + dir_ + "/" + model, rank, signal));
    });
    const int code = RunCommand(command, out);
    killer.join();
    return code;
  }
  std::string File(const std::string& path) const {
    Result<std::string> data = ReadFile(dir_ + "/" + path);
    EXPECT_TRUE(data.ok()) << data.status().ToString();
    return data.ok() ? data.value() : std::string();
  }
  // key -> row bytes over every server dump of `model`.
  std::map<uint64_t, std::string> Rows(const std::string& model, int servers) const {
    std::map<uint64_t, std::string> rows;
    for (int s = 0; s < servers; ++s) {
      std::unique_ptr<EmbeddingStore> store = MakeMemoryStore();
      EXPECT_TRUE(
          LoadStore(dir_ + "/" + model + "/ps/server-" + std::to_string(s) + ".bin", store.get())
              .ok());
      for (const std::string& table : store->TableNames()) {
        EXPECT_TRUE(store->ForEach(table, [&](uint64_t key, std::string_view row) {
          rows[key] = std::string(row);
          return true;
        }).ok());
      }
    }
    return rows;
  }

  std::string dir_;
  std::string flags_;
};

TEST_F(CheckpointTest, KilledProcessResumesToTheSameModel) {
  std::string out;
  ASSERT_EQ(0, RunCommand(Single("full"), &out)) << out;
  EXPECT_NE(RunAndSignal(Single("part"), "part", -1, SIGKILL, &out), 0) << out;
  ASSERT_EQ(0, RunCommand(Single("part") + " --resume", &out)) << out;
  EXPECT_NE(out.find("resumed from step"), std::string::npos) << out;
  EXPECT_EQ(File("full/dense.pt"), File("part/dense.pt"));
  EXPECT_EQ(File("full/embeddings.bin"), File("part/embeddings.bin"));
}

TEST_F(CheckpointTest, KilledWorkerOrServerThenResumeGivesTheUninterruptedModel) {
  std::string out;
  ASSERT_EQ(0, RunCommand(Mpi("full", 2), &out)) << out;
  const auto full_rows = Rows("full", 2);
  ASSERT_GT(full_rows.size(), 1000u);
  for (int rank : {1, 3}) {  // worker 1, then server 1
    const std::string model = "killed" + std::to_string(rank);
    const int code = RunAndSignal(Mpi(model, 2), model, rank, SIGKILL, &out);
    EXPECT_NE(code, 0) << out;
    EXPECT_NE(code, 124) << "the job hung:\n" << out;
    EXPECT_NE(out.find("rank " + std::to_string(rank)), std::string::npos) << out;
    ASSERT_EQ(0, RunCommand(Mpi(model, 2) + " --resume", &out)) << out;
    EXPECT_EQ(File("full/dense.pt"), File(model + "/dense.pt")) << "rank " << rank;
    EXPECT_EQ(full_rows, Rows(model, 2)) << "rank " << rank;
  }
  // The checkpoint of 2 servers restored onto 1 server: the same rows.
  ASSERT_EQ(0, RunCommand("cp -r " + dir_ + "/killed1 " + dir_ + "/one", &out));
  ASSERT_EQ(0, RunCommand(Mpi("one", 1) + " --resume", &out)) << out;
  EXPECT_EQ(File("full/dense.pt"), File("one/dense.pt"));
  EXPECT_EQ(full_rows, Rows("one", 1));
}

TEST_F(CheckpointTest, DamagedCheckpointIsDetected) {
  std::string out;
  EXPECT_NE(RunAndSignal(Single("bad"), "bad", -1, SIGKILL, &out), 0) << out;
  // Flip one byte of the dense parameters of the checkpoint a resume would
  // pick (found as the resume finds it: a ckpt-N.partial the kill left
  // behind, MANIFEST and all, is not one).
  Result<std::optional<CheckpointInfo>> newest =
      FindResumePoint(dir_ + "/bad/checkpoints", /*skip_corrupt=*/false);
  ASSERT_TRUE(newest.ok() && newest.value().has_value()) << newest.status().ToString();
  const std::string dense = newest.value()->path + "/dense.pt";
  Result<std::string> read = ReadFile(dense);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  std::string bytes = read.value();
  bytes[bytes.size() / 2] ^= 0x5A;
  ASSERT_TRUE(WriteFileDurably(dense, bytes).ok());
  EXPECT_NE(RunCommand(Single("bad") + " --resume", &out), 0);
  EXPECT_NE(out.find("dense.pt fails its CRC-32C check"), std::string::npos) << out;
  ASSERT_EQ(0, RunCommand(Single("bad") + " --resume --resume_skip_corrupt", &out)) << out;
  EXPECT_NE(out.find("resumed from step"), std::string::npos) << out;
}

TEST_F(CheckpointTest, SigtermCheckpointsAndExitsCleanly) {
  std::string out;
  ASSERT_EQ(0, RunCommand(Single("full"), &out)) << out;
  ASSERT_EQ(0, RunAndSignal(Single("term"), "term", -1, SIGTERM, &out)) << out;
  EXPECT_NE(out.find("stopped by a signal after step"), std::string::npos) << out;
  ASSERT_EQ(0, RunCommand(Single("term") + " --resume", &out)) << out;
  EXPECT_EQ(File("full/dense.pt"), File("term/dense.pt"));
  EXPECT_EQ(File("full/embeddings.bin"), File("term/embeddings.bin"));
}

TEST_F(CheckpointTest, RocksDbServersCheckpointNativelyAndRestoreOntoOneServer) {
  std::string out;
  ASSERT_EQ(0, RunCommand(Mpi("rfull", 2) + " --store rocksdb", &out)) << out;
  const int code = RunAndSignal(Mpi("rkill", 2) + " --store rocksdb", "rkill", 1, SIGKILL, &out);
  EXPECT_NE(code, 0) << out;
  EXPECT_TRUE(PathExists(dir_ + "/rkill/checkpoints/ckpt-0000000040/server-0.rocksdb/CURRENT"));
  ASSERT_EQ(0, RunCommand(Mpi("rkill", 1) + " --store rocksdb --resume", &out)) << out;
  for (const char* model : {"rfull", "rkill"}) {
    ASSERT_EQ(0, RunCommand(MSREC_BINARY " export --model_dir " + dir_ + "/" + model +
                                " --output " + dir_ + "/" + model + "_bundle",
                            &out))
        << out;
  }
  EXPECT_EQ(File("rfull/dense.pt"), File("rkill/dense.pt"));
  EXPECT_EQ(File("rfull_bundle/embeddings.bin"), File("rkill_bundle/embeddings.bin"));
}

// Rows of a SaveStore dump.
uint64_t DumpRows(const std::string& path) {
  std::unique_ptr<EmbeddingStore> store = MakeMemoryStore();
  EXPECT_TRUE(LoadStore(path, store.get()).ok());
  uint64_t rows = 0;
  for (const std::string& table : store->TableNames()) rows += store->Count(table).value();
  return rows;
}

TEST_F(CheckpointTest, TtlEvictionRunsAtCheckpointTime) {
  std::string out;
  ASSERT_EQ(0, RunCommand(Single("keep") + " --max_steps 40", &out)) << out;
  ASSERT_EQ(0, RunCommand(Single("ttl") + " --max_steps 40 --ttl_steps 5", &out)) << out;
  EXPECT_NE(out.find("rows older than their TTL at step 10"), std::string::npos) << out;
  // Rows not pushed in the last 5 steps are gone from the checkpoint and the model.
  const uint64_t kept = DumpRows(dir_ + "/keep/checkpoints/ckpt-0000000040/server-0.bin");
  const uint64_t evicted = DumpRows(dir_ + "/ttl/checkpoints/ckpt-0000000040/server-0.bin");
  EXPECT_GT(kept, 0u);
  EXPECT_LT(evicted, kept);
  EXPECT_EQ(evicted, DumpRows(dir_ + "/ttl/embeddings.bin"));
}

// The last line of `out` that starts with `prefix`.
std::string LastLine(const std::string& out, const std::string& prefix) {
  std::string found;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) found = line;
  }
  return found;
}

TEST_F(CheckpointTest, ExportedBundleOfAMultiServerJobScoresLikeTheJob) {
  std::string out;
  ASSERT_EQ(0, RunCommand(Mpi("job", 2) + " --max_steps 30", &out)) << out;
  const std::string job_val = LastLine(out, "overall");
  ASSERT_FALSE(job_val.empty()) << out;
  ASSERT_EQ(0, RunCommand(MSREC_BINARY " export --model_dir " + dir_ + "/job --output " + dir_ +
                              "/bundle",
                          &out))
      << out;
  EXPECT_NE(out.find("wrote serving bundle"), std::string::npos) << out;
  ASSERT_EQ(0, RunCommand(MSREC_BINARY " eval --model_dir " + dir_ + "/bundle --input " + dir_ +
                              "/data/val.csv",
                          &out))
      << out;
  EXPECT_EQ(job_val, LastLine(out, "overall")) << out;
}

}  // namespace
}  // namespace msrec
