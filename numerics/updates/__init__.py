"""Memory update rules (paper §4): token loops, parallel and chunked forms, naive references, and the
numeric sides of the ``update`` claims. One module per job:

* :mod:`numerics.updates.recurrent`: token-by-token references (linear attention, decay, DeltaNet,
  gated DeltaNet, softmax attention, DeltaFormer);
* :mod:`numerics.updates.kernels`: the kernels ``kappa(x, y)`` of softmax attention and DeltaFormer;
* :mod:`numerics.updates.parallel`: matrix forms (one triangular solve), the WY/UT representation;
* :mod:`numerics.updates.chunked`: chunked forms (state carried across chunks, log-sum-exp shares);
* :mod:`numerics.updates.naive`: independently written references for the softmax rules;
* :mod:`numerics.updates.cost`: instrumented arrays that count multiply-adds;
* :mod:`numerics.updates.measures`: what the ledger measures.

Every public name of these modules is importable from here.
"""

from numerics.updates.chunked import (chunk_threads, decayed_attention_chunked, deltaformer_chunked,
                                      deltaformer_first_stage_listing,
                                      deltanet_chunked, gated_deltanet_chunked, linear_attention_chunked,
                                      set_chunk_threads, softmax_attention_chunked)
from numerics.updates.cost import CountedArray, MultiplyAddCounter
from numerics.updates.kernels import Kernel, exp_kernel, linear_kernel
from numerics.updates.measures import (max_relative_gap, measure_chunked_cost, measure_comba_form,
                                       measure_contraction_factor, measure_deltaformer_forms, measure_deltaformer_listing,
                                       measure_deltaformer_reduction, measure_first_stage_amplification,
                                       measure_householder_spectrum, measure_optimizer_step, measure_route_agreement,
                                       measure_softmax_forms, measure_wy_product, rule_loss_gradient)
from numerics.updates.naive import (deltaformer_first_stage_reference, deltaformer_reference,
                                   softmax_attention_reference)
from numerics.updates.parallel import (decayed_attention_parallel, deltaformer_parallel, deltanet_parallel,
                                       gated_deltanet_parallel, linear_attention_parallel, softmax_attention_parallel,
                                       wy_representation)
from numerics.updates.recurrent import (comba_recurrent, decayed_attention_recurrent, delta_rule_step,
                                        deltaformer_recurrent, deltanet_recurrent, gated_deltanet_recurrent,
                                        linear_attention_recurrent, softmax_attention_recurrent)

__all__ = [
    "CountedArray",
    "Kernel",
    "MultiplyAddCounter",
    "chunk_threads",
    "comba_recurrent",
    "decayed_attention_chunked",
    "decayed_attention_parallel",
    "decayed_attention_recurrent",
    "delta_rule_step",
    "deltaformer_chunked",
    "deltaformer_first_stage_listing",
    "deltaformer_parallel",
    "deltaformer_recurrent",
    "deltaformer_first_stage_reference",
    "deltaformer_reference",
    "deltanet_chunked",
    "deltanet_parallel",
    "deltanet_recurrent",
    "exp_kernel",
    "gated_deltanet_chunked",
    "gated_deltanet_parallel",
    "gated_deltanet_recurrent",
    "linear_attention_chunked",
    "linear_attention_parallel",
    "linear_attention_recurrent",
    "linear_kernel",
    "max_relative_gap",
    "measure_chunked_cost",
    "measure_comba_form",
    "measure_contraction_factor",
    "measure_deltaformer_forms",
    "measure_deltaformer_listing",
    "measure_deltaformer_reduction",
    "measure_first_stage_amplification",
    "measure_householder_spectrum",
    "measure_optimizer_step",
    "measure_route_agreement",
    "measure_softmax_forms",
    "measure_wy_product",
    "rule_loss_gradient",
    "set_chunk_threads",
    "softmax_attention_chunked",
    "softmax_attention_parallel",
    "softmax_attention_recurrent",
    "softmax_attention_reference",
    "wy_representation",
]
