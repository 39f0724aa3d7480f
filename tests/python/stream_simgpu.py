"""Tensors made on a side stream (as FSDP2's all-gather and reduce-scatter
buffers are) next to ones on the default stream, then torch's own snapshot of
its caching allocator: each live block's address and stream, as JSON in argv[1]."""
import json
import sys

import torch

dev = torch.device("cuda")
side = torch.cuda.Stream()
keep = [torch.empty(1 << 20, device=dev)]           # default stream
with torch.cuda.stream(side):
    keep += [torch.empty(3 << 20, device=dev), torch.empty(1000, device=dev)]
keep.append(torch.empty(5000, device=dev))         # default again
torch.cuda.synchronize()
blocks = []
for seg in torch.cuda.memory._snapshot()["segments"]:
    for b in seg["blocks"]:
        if b["state"] == "active_allocated":
            blocks.append({"addr": b["address"], "stream": seg["stream"]})
json.dump({"blocks": blocks, "side": side.cuda_stream}, open(sys.argv[1], "w"))
