#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "common/hash.h"
#include "common/malloc_settings.h"
#include "common/status.h"

namespace msrec {
namespace {

// Keys are persisted: these values must never change.
TEST(HashTest, PinnedValues) {
  EXPECT_EQ(Hash64("", 0), 0ULL);
  EXPECT_EQ(Hash64("abc", 0), Hash64(std::string("abc"), 0));
  const uint64_t user42 = FeatureKey(FieldSeed("user_id"), "42");
  EXPECT_EQ(user42, 0x656285B55132B395ULL) << std::hex << user42;
  EXPECT_EQ(Mix64(1), 0x910A2DEC89025CC1ULL);
}

TEST(HashTest, FieldIsMixedIntoKey) {
  EXPECT_NE(FeatureKey(FieldSeed("user_id"), "42"), FeatureKey(FieldSeed("item_id"), "42"));
  EXPECT_NE(FeatureKey(FieldSeed("a"), "1"), FeatureKey(FieldSeed("a"), "2"));
}

TEST(HashTest, Crc32cKnownVector) {
  // RFC 3720 test vector: 32 bytes of zeros.
  char zeros[32];
  std::memset(zeros, 0, sizeof(zeros));
  EXPECT_EQ(Crc32c(zeros, 32), 0x8A9136AAu);
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  // Incremental equals one-shot.
  EXPECT_EQ(Crc32c("6789", 4, Crc32c("12345", 5)), 0xE3069283u);
}

TEST(StatusTest, ContextAndResult) {
  Status s = Status::IoError("disk full").WithContext("writing x.bin");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "IoError: writing x.bin: disk full");
  Result<int> r = 3;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.value(), 3);
  Result<int> e = Status::NotFound("k");
  EXPECT_FALSE(e.ok());
}

// --malloc_keep_mb: after KeepFreedMemory a step-sized block (8 MiB) comes
// from the heap, not from mmap, and its memory stays in the heap when freed
// (glibc's defaults mmap it and unmap it on free: the page faults of every step).
TEST(MallocSettingsTest, StepSizedBlocksComeFromTheHeapAndStayThereWhenFreed) {
  if (std::getenv("GLIBC_TUNABLES") != nullptr || std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr ||
      std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr) {
    GTEST_SKIP() << "malloc settings in the environment win over KeepFreedMemory";
  }
  EXPECT_EQ(KeepFreedMemory(0), "");
  ASSERT_EQ(KeepFreedMemory(64),
            std::string("M_TRIM_THRESHOLD 64 MiB, M_MMAP_THRESHOLD 32 MiB") +
                (std::getenv("MALLOC_ARENA_MAX") == nullptr ? ", M_ARENA_MAX 2" : ""));
  constexpr size_t kBlock = size_t{8} << 20;
  const struct mallinfo2 before = mallinfo2();
  char* block = static_cast<char*>(std::malloc(kBlock));
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, kBlock);
  const struct mallinfo2 during = mallinfo2();
  EXPECT_EQ(during.hblkhd, before.hblkhd) << "the block was mmapped";
  EXPECT_GE(during.arena, before.arena + kBlock / 2);
  std::free(block);
  const struct mallinfo2 after = mallinfo2();
  EXPECT_EQ(after.arena, during.arena) << "the heap was trimmed";
  EXPECT_GE(after.fordblks, kBlock);
}

}  // namespace
}  // namespace msrec
