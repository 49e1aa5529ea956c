"""Regional compilation for training: each decoder layer's forward compiled by torch.compile, in place, and undone."""

from __future__ import annotations

import contextlib
import logging

from finetune.loss import unwrapped

log = logging.getLogger(__name__)

# torch.compile's backend; tests swap in "eager", which checks the wiring without generating code.
BACKEND = "inductor"


def decoder_layers(model) -> list:
    """The repeated blocks of `model` (peft-wrapped or not): its decoder's `layers`, as transformers' causal LMs name
    them; empty where it has none."""
    base = unwrapped(model)
    decoder = base.get_decoder() if hasattr(base, "get_decoder") else None
    layers = getattr(decoder, "layers", None)
    return list(layers) if layers is not None else []


@contextlib.contextmanager
def layers_compiled(model):
    """Within it, each decoder layer of `model` runs compiled (torch.compile with dynamic shapes: a batch's rows and
    width change from step to step; the layers share their structure, so one compilation serves them all): fewer
    kernel launches and less Python a step, for a compilation at the first step. What lies between the layers (the
    embeddings, the attention masks, the loss) stays eager. On leaving, the layers run eagerly again: generation after
    training would otherwise compile anew for its shapes. A few more compilations may come mid-training, at most
    one for each kind of batch not yet seen: with an attention mask or without (a packed batch has one only where
    a row holds several examples), of one row or more (a size of 1 is always compiled apart). Yields whether
    anything was compiled."""
    import torch.fx.experimental._config

    layers = decoder_layers(model)
    if not layers:
        log.info("no decoder layers found to compile: training runs eagerly")
    base = unwrapped(model)
    # The first layer's input would need no gradient (the embeddings are frozen) and every other layer's would: one
    # compiled graph serves all of them once the embeddings' output asks for one too (a little more backward work in
    # the first layer, against a second compilation).
    same_inputs = bool(layers) and hasattr(base, "enable_input_require_grads")
    if same_inputs:
        base.enable_input_require_grads()
    for layer in layers:
        layer.compile(dynamic=True, backend=BACKEND)
    try:
        # Duck shaping would give a width equal to a static size (a head's dimension, say) that size's symbol, and
        # compile again for every other width: each size is a symbol of its own.
        with torch.fx.experimental._config.patch(use_duck_shape=False):
            yield bool(layers)
    finally:
        for layer in layers:
            layer._compiled_call_impl = None  # what nn.Module.compile set; no public call undoes it
        if same_inputs:
            base.disable_input_require_grads()
