"""Linear layers of M networks at once: the arithmetic of the stacked trainer (``_stacked.py``).

Each network's weights are one slice of a stacked tensor ``(M, out, in)``;
a layer of all ``M`` is one batched matrix product instead of ``M`` small ones.
"""

import torch
from torch.nn import functional as F


class _GroupedLinear(torch.autograd.Function):
    """``M`` linear layers at once: ``x (M, n, in) @ weight (M, out, in)^T + bias (M, out)``.

    The backward computes the weights' gradient as ``grad^T @ x`` in the
    weights' own layout; autograd's ``baddbmm`` backward computes its
    transpose and copies it into that layout, which doubled the step's time
    on CPU (and summed small layers' gradients in another order than one
    member's ``linear`` does).
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad_x = torch.bmm(grad, weight) if ctx.needs_input_grad[0] else None
        grad_weight = torch.bmm(grad.transpose(1, 2), x) if ctx.needs_input_grad[1] else None
        grad_bias = grad.sum(1) if ctx.needs_input_grad[2] else None
        return grad_x, grad_weight, grad_bias


def grouped_forward(template):
    """RewardMLP's forward on the stacked weights of M members: ``(M, ..., d) -> (M, ...)``.

    As ``RewardNet.infer`` does for one member, the items are flattened to
    ``(M, n, d)``; each hidden linear layer is one grouped layer (batched
    products), the output layer of width 1 is each member's own ``linear``
    (a matrix-vector product, which the batched kernel sums in another order).
    """
    layers = list(template.layers)

    def forward(params, x):
        h = x.reshape(x.shape[0], -1, x.shape[-1])
        for k, layer in enumerate(layers):
            if not isinstance(layer, torch.nn.Linear):
                h = layer(h)  # an activation: elementwise
                continue
            weight, bias = params[f"layers.{k}.weight"], params[f"layers.{k}.bias"]
            if weight.shape[1] == 1:
                h = torch.stack([F.linear(h[i], weight[i], bias[i]) for i in range(len(h))])
            else:
                h = _GroupedLinear.apply(h, weight, bias)
        return h.squeeze(-1).reshape(x.shape[:-1])
    return forward
