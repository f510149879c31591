#include "models/layers.h"

namespace msrec {

MlpImpl::MlpImpl(int64_t in_dim, const std::vector<int64_t>& hidden, int64_t out_dim,
                 bool batch_norm, double dropout) {
  int64_t width = in_dim;
  for (int64_t h : hidden) {
    seq_->push_back(torch::nn::Linear(width, h));
    if (batch_norm) seq_->push_back(torch::nn::BatchNorm1d(h));
    seq_->push_back(torch::nn::ReLU());
    if (dropout > 0) seq_->push_back(torch::nn::Dropout(dropout));
    width = h;
  }
  if (out_dim > 0) {
    seq_->push_back(torch::nn::Linear(width, out_dim));
    width = out_dim;
  }
  out_dim_ = width;
  register_module("seq", seq_);
}

torch::Tensor MlpImpl::forward(torch::Tensor x) { return seq_->forward(x); }

torch::Tensor FlattenInputs(const torch::Tensor& embeddings, const torch::Tensor& dense) {
  torch::Tensor flat = embeddings.flatten(1);
  if (dense.defined() && dense.size(1) > 0) return torch::cat({flat, dense}, 1);
  return flat;
}

int64_t MlpFlops(int64_t in_dim, const std::vector<int64_t>& hidden, int64_t out_dim) {
  int64_t flops = 0, width = in_dim;
  for (int64_t h : hidden) {
    flops += 2 * width * h;
    width = h;
  }
  if (out_dim > 0) flops += 2 * width * out_dim;
  return flops;
}

int64_t CountParameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace msrec
