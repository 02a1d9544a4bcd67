// Large host buffers (plan files, weights, activation arenas): one allocator,
// 64-byte aligned and left uninitialized — a model's weights are hundreds of
// MB, and each extra pass over them (a zero fill before a copy) is a visible
// part of a warm build or an engine load.
#pragma once
#include <cstddef>
#include <memory>

namespace kiln {

//! Uninitialized, 64-byte aligned storage of at least `bytes` (rounded up to
//! 64; 64 for zero), freed when the last owner goes. Throws kiln::Error naming
//! `what` when the memory cannot be had.
//!
//! Not advised into transparent huge pages: measured on the 2-core dev VM
//! (THP "madvise", defrag "madvise"), MADV_HUGEPAGE made a warm BERT build
//! 3-4x slower (0.4 -> 1.4-1.9 s), the faults stalling in compaction.
std::shared_ptr<void> allocHostBuffer(std::size_t bytes, const char* what);

}  // namespace kiln
