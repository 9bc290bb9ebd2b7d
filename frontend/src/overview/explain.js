// Short explanations of what each kind of layer does, shown beside the overview.

const TEXT = {
  overview: ["How to read this",
    "Each column is one layer of the network, left to right in the order the image flows "
    + "through it. Each small square is one channel (a feature map): red where the layer's "
    + "output is positive, blue where it is negative, white near zero. Hover a pixel to read its "
    + "exact value and to light up what feeds it; click it to open the detailed view."],
  input: ["Input",
    "The image exactly as the model receives it: resized, converted to its channels and "
    + "scaled. Everything to the right is computed from these numbers."],
  conv2d: ["Convolution",
    "A convolution slides small learned kernels over every input channel. Each output pixel "
    + "is a weighted sum of a small window taken across all input channels, plus a bias; one "
    + "output channel per kernel, each detecting one pattern (an edge, a texture, a part)."],
  conv_transpose2d: ["Transposed convolution",
    "Spreads every input pixel onto a larger output through a learned kernel: the way decoders "
    + "grow feature maps back to a bigger size."],
  relu: ["ReLU",
    "Keeps positive values and replaces negative ones by zero, channel by channel. This simple "
    + "bend is what lets stacked layers represent more than one linear function."],
  relu6: ["ReLU6", "Like ReLU, but also caps values at 6."],
  leaky_relu: ["Leaky ReLU", "Keeps positive values; negative values are multiplied by a small slope."],
  gelu: ["GELU", "A smooth version of ReLU: small negative values pass through, scaled down."],
  silu: ["SiLU", "Multiplies each value by its own sigmoid: a smooth, slightly negative-dipping ReLU."],
  sigmoid: ["Sigmoid", "Squashes every value into the range 0 to 1."],
  tanh: ["Tanh", "Squashes every value into the range -1 to 1."],
  hardswish: ["Hard swish", "A cheap piecewise approximation of SiLU used by mobile networks."],
  max_pool2d: ["Max pooling",
    "Shrinks each channel by keeping only the largest value in every small window. The map "
    + "gets smaller while the strongest responses survive."],
  avg_pool2d: ["Average pooling", "Shrinks each channel by averaging every small window."],
  adaptive_avg_pool2d: ["Global average pooling",
    "Averages each channel down to a fixed size, often to a single number per channel."],
  batch_norm: ["Batch normalisation",
    "Shifts and rescales each channel with statistics learned during training, so the next "
    + "layer sees values in a steady range."],
  layer_norm: ["Layer normalisation", "Rescales the values of each position to zero mean and unit variance, then applies a learned scale and shift."],
  add: ["Addition", "Adds its inputs element by element: a residual (skip) connection."],
  mul: ["Multiplication", "Multiplies its inputs element by element, e.g. to gate or re-weight channels."],
  cat: ["Concatenation", "Stacks the channels of its inputs one after another."],
  flatten: ["Flatten",
    "Lays every value of every channel out in one long vector, so that a dense layer can "
    + "look at all of them at once. No numbers change, only their arrangement."],
  reshape: ["Reshape", "Rearranges values into a new shape without changing them."],
  linear: ["Dense (linear) layer",
    "Each output unit is a weighted sum of every input value plus a bias. In the last layer "
    + "there is one unit per class: these raw scores are the logits."],
  mean: ["Mean", "Averages values over one or more dimensions."],
  upsample: ["Upsampling", "Makes each channel larger by repeating or interpolating values."],
  dropout: ["Dropout", "Randomly zeroes values while training; at inference it passes values through unchanged."],
  identity: ["Identity", "Passes its input through unchanged."],
  softmax: ["Softmax",
    "Turns the raw class scores into probabilities: exponentiate each score, then divide by "
    + "the sum, so that all classes add up to 1 and bigger scores get a larger share."],
  block: ["Block",
    "A module made of several layers, collapsed to keep the picture readable. It shows the "
    + "output of its last layer; open it to see every layer inside."],
};

export function explanation(kind) {
  const [title, body] = TEXT[kind] || ["Layer", "An operation of the network."];
  return { title, body };
}
