# Prints the torch.optim reference numbers pasted into optim_test.cc (run with /usr/bin/python3).
import torch
torch.set_printoptions(precision=10)
p0 = [0.5, -1.25, 2.0, 0.0, 3.0]
grads = [[0.1, -0.2, 0.3, 0.05, -1.5],
         [0.4, 0.1, -0.3, -0.25, 0.5],
         [-0.2, 0.3, 0.0, 0.125, 2.0],
         [0.05, -0.6, 0.2, 0.0, -0.75]]
lrs = [0.1, 0.05, 0.02, 0.01]
cases = {
 "sgd_plain": (torch.optim.SGD, dict(lr=1)),
 "sgd_momentum": (torch.optim.SGD, dict(lr=1, momentum=0.9)),
 "sgd_nesterov_wd": (torch.optim.SGD, dict(lr=1, momentum=0.9, nesterov=True, weight_decay=0.01)),
 "adam": (torch.optim.Adam, dict(lr=1)),
 "adam_wd": (torch.optim.Adam, dict(lr=1, weight_decay=0.1)),
 "adamw": (torch.optim.AdamW, dict(lr=1, weight_decay=0.1, betas=(0.8, 0.99), eps=1e-6)),
}
for name, (cls, kw) in cases.items():
    p = torch.tensor(p0, dtype=torch.float32, requires_grad=True)
    opt = cls([p], **kw)
    print(name)
    for g, lr in zip(grads, lrs):
        for group in opt.param_groups: group["lr"] = lr
        p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        print("  {" + ", ".join("%.9ef" % v for v in p.detach().tolist()) + "},")
# clip_grad_norm_
g = torch.tensor([3.0, -4.0, 12.0], requires_grad=False)
q = torch.zeros(3, requires_grad=True); q.grad = g.clone()
n = torch.nn.utils.clip_grad_norm_([q], 6.5)
print("clip", n.item(), ["%.9e" % v for v in q.grad.tolist()])
