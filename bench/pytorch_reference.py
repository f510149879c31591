#!/usr/bin/python3
"""Plain-PyTorch MT-Backbone, the baseline msrec's trainer is measured against.

The way a Python user would write it: read the CSV with the csv module, build a
vocabulary per categorical field, one nn.Embedding (nn.EmbeddingBag for a
multi-valued field) per field, one MLP tower per scenario, dense Adam over every
parameter, BCE loss. Prints machine-readable `name=value` lines:
  load_seconds, train_seconds, samples, samples_per_sec_train, samples_per_sec_e2e

usage: pytorch_reference.py --train FILE --label label --scenario scenario \
         [--multi genres:|] [--dense d0,d1] [--ignore true_prob] [--batch 2048] [--threads 1]
"""
import argparse
import csv
import gzip
import time

import torch
import torch.nn as nn


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--train", required=True)
    p.add_argument("--label", default="label")
    p.add_argument("--scenario", default="scenario")
    p.add_argument("--multi", default="", help="column:sep[,column:sep]")
    p.add_argument("--dense", default="", help="comma-separated dense columns")
    p.add_argument("--ignore", default="", help="comma-separated columns to skip")
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--hidden", default="256,128,64")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max_steps", type=int, default=0)
    return p.parse_args()


class MtBackbone(nn.Module):
    def __init__(self, vocab_sizes, multi_flags, dim, num_dense, num_scenarios, hidden):
        super().__init__()
        self.embs = nn.ModuleList(
            nn.EmbeddingBag(v, dim, mode="mean") if m else nn.Embedding(v, dim)
            for v, m in zip(vocab_sizes, multi_flags))
        in_dim = len(vocab_sizes) * dim + num_dense
        self.towers = nn.ModuleList()
        for _ in range(num_scenarios):
            layers, w = [], in_dim
            for h in hidden:
                layers += [nn.Linear(w, h), nn.ReLU()]
                w = h
            layers.append(nn.Linear(w, 1))
            self.towers.append(nn.Sequential(*layers))

    def forward(self, cats, bags, dense, scenario):
        parts = []
        for f, emb in enumerate(self.embs):
            if f in bags:
                idx, off = bags[f]
                parts.append(emb(idx, off))
            else:
                parts.append(emb(cats[:, f]))
        x = torch.cat(parts + [dense], 1)
        out = torch.zeros(x.shape[0])
        for k, tower in enumerate(self.towers):
            rows = (scenario == k).nonzero().squeeze(1)
            if rows.numel():
                out = out.index_put((rows,), tower(x[rows]).squeeze(1))
        return out


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(2022)
    multi = dict(m.split(":") for m in a.multi.split(",") if m)
    dense_cols = [c for c in a.dense.split(",") if c]
    ignore = set(c for c in a.ignore.split(",") if c)
    t0 = time.time()
    opener = gzip.open if a.train.endswith(".gz") else open
    with opener(a.train, "rt", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        cat_cols = [c for c in header if c not in ignore and c not in dense_cols
                    and c not in (a.label, a.scenario)]
        col = {c: i for i, c in enumerate(header)}
        vocabs = [dict() for _ in cat_cols]
        scen_vocab = {}
        labels, scens, dense, cats, bag_vals = [], [], [], [], [[] for _ in cat_cols]
        for row in reader:
            labels.append(float(row[col[a.label]]))
            scens.append(scen_vocab.setdefault(row[col[a.scenario]], len(scen_vocab)))
            dense.append([float(row[col[c]]) for c in dense_cols])
            r = []
            for f, c in enumerate(cat_cols):
                v = row[col[c]]
                if c in multi:
                    ids = [vocabs[f].setdefault(x, len(vocabs[f])) for x in v.split(multi[c]) if x]
                    bag_vals[f].append(ids)
                    r.append(0)
                else:
                    r.append(vocabs[f].setdefault(v, len(vocabs[f])))
            cats.append(r)
    labels = torch.tensor(labels)
    scens = torch.tensor(scens)
    dense = torch.tensor(dense, dtype=torch.float32).reshape(len(labels), len(dense_cols))
    cats = torch.tensor(cats)
    load_seconds = time.time() - t0
    multi_idx = [f for f, c in enumerate(cat_cols) if c in multi]
    model = MtBackbone([max(len(v), 1) for v in vocabs], [c in multi for c in cat_cols], a.dim,
                       len(dense_cols), len(scen_vocab), [int(h) for h in a.hidden.split(",")])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    n = len(labels)
    t1 = time.time()
    steps = samples = 0
    for start in range(0, n, a.batch):
        end = min(start + a.batch, n)
        bags = {}
        for f in multi_idx:
            lists = bag_vals[f][start:end]
            offsets, flat = [], []
            for ids in lists:
                offsets.append(len(flat))
                flat.extend(ids)
            bags[f] = (torch.tensor(flat, dtype=torch.long), torch.tensor(offsets, dtype=torch.long))
        logits = model(cats[start:end], bags, dense[start:end], scens[start:end])
        loss = loss_fn(logits, labels[start:end])
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
        samples += end - start
        if a.max_steps and steps >= a.max_steps:
            break
    train_seconds = time.time() - t1
    print(f"load_seconds={load_seconds:.3f}")
    print(f"train_seconds={train_seconds:.3f}")
    print(f"samples={samples}")
    print(f"embedding_rows={sum(len(v) for v in vocabs)}")
    print(f"samples_per_sec_train={samples / train_seconds:.1f}")
    print(f"samples_per_sec_e2e={samples / (train_seconds + load_seconds * samples / n):.1f}")


if __name__ == "__main__":
    main()
