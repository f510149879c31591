// The in-memory EmbeddingStore: the reference implementation and the fake of
// tests. Rows live in one hash map per table and are lost when the store is
// destroyed unless saved with SaveStore (embedding_store.h).
#pragma once

#include <memory>

#include "parameter_server/embedding_store.h"

namespace msrec {

// Thread safety: safe for concurrent calls (a reader-writer lock per table;
// MultiGet calls run in parallel, a Write excludes them).
std::unique_ptr<EmbeddingStore> MakeMemoryStore();

}  // namespace msrec
