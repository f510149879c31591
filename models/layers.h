// Building blocks shared by the models.
#pragma once

#include <vector>

#include <torch/torch.h>

namespace msrec {

// An MLP: for each hidden size, Linear -> [BatchNorm] -> ReLU -> [Dropout];
// then, if out_dim > 0, a final Linear to out_dim (no activation).
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t in_dim, const std::vector<int64_t>& hidden, int64_t out_dim, bool batch_norm,
          double dropout);
  torch::Tensor forward(torch::Tensor x);
  int64_t out_dim() const { return out_dim_; }

 private:
  torch::nn::Sequential seq_;
  int64_t out_dim_;
};
TORCH_MODULE(Mlp);

// concat(flatten(E), dense): B x (F*d + num_dense).
torch::Tensor FlattenInputs(const torch::Tensor& embeddings, const torch::Tensor& dense);

// Forward FLOPs (2 per multiply-add) of one instance through an Mlp of these sizes.
int64_t MlpFlops(int64_t in_dim, const std::vector<int64_t>& hidden, int64_t out_dim);

// Number of trainable scalars in a module.
int64_t CountParameters(const torch::nn::Module& module);

}  // namespace msrec
