// The reference backend against PyTorch 1.13 (torch.nn.LSTM / GRU / RNN in float64): our
// canonical parameters loaded into torch (bias_hh = 0 for RNN/LSTM, whose single canonical
// bias is b_ih + b_hh), same inputs, outputs compared to 1e-12. This pins down the gate
// orders, GRU's reset-after formula, proj_size and the bidirectional / multi-layer
// layouts independently of our own gradient checks. Expected values were produced by this
// script (run with /usr/bin/python3) and pasted below:
//
// # Generates the PyTorch expected values pasted into tests/layers/reference_pytorch_test.cc.
// import math, torch
// torch.set_default_dtype(torch.float64)
//
// def value(i, salt): return 0.5 * math.sin(0.7 * i + salt)
//
// def canonical(cell, I, H, L, D, proj):
//     G = {'rnn_tanh': 1, 'rnn_relu': 1, 'lstm': 4, 'gru': 3}[cell]
//     S = proj if proj else H
//     O = S * D
//     out = []
//     for k in range(L):
//         for d in range(D):
//             sfx = f'_l{k}' + ('_reverse' if d else '')
//             Ik = I if k == 0 else O
//             out.append(('weight_ih' + sfx, (G * H, Ik)))
//             out.append(('weight_hh' + sfx, (G * H, S)))
//             out.append(('bias_ih' + sfx, (G * H,)))
//             if cell == 'gru': out.append(('bias_hh' + sfx, (G * H,)))
//             if proj: out.append(('weight_hr' + sfx, (S, H)))
//     return out
//
// def run(cell, I, H, L, bidir, proj, T, N, with_init):
//     D = 2 if bidir else 1
//     S = proj if proj else H
//     layout = canonical(cell, I, H, L, D, proj)
//     off = 0
//     sd = {}
//     for name, shape in layout:
//         n = math.prod(shape)
//         sd[name] = torch.tensor([value(off + i, 0.1) for i in range(n)]).reshape(shape)
//         off += n
//         if cell != 'gru' and name.startswith('bias_ih'):
//             sd[name.replace('bias_ih', 'bias_hh')] = torch.zeros(shape)
//     if cell == 'lstm':
//         m = torch.nn.LSTM(I, H, L, bidirectional=bidir, proj_size=proj)
//     elif cell == 'gru':
//         m = torch.nn.GRU(I, H, L, bidirectional=bidir)
//     else:
//         m = torch.nn.RNN(I, H, L, nonlinearity=cell[4:], bidirectional=bidir)
//     m.load_state_dict(sd)
//     x = torch.tensor([value(i, 1.3) for i in range(T * N * I)]).reshape(T, N, I)
//     h0 = torch.tensor([value(i, 2.1) for i in range(L * D * N * S)]).reshape(L * D, N, S)
//     c0 = torch.tensor([value(i, 2.9) for i in range(L * D * N * H)]).reshape(L * D, N, H)
//     with torch.no_grad():
//         if cell == 'lstm':
//             y, (hT, cT) = m(x, (h0, c0)) if with_init else m(x)
//         else:
//             y, hT = m(x, h0) if with_init else m(x); cT = None
//     print(f'// {cell} I={I} H={H} L={L} bidir={bidir} proj={proj} T={T} N={N} init={with_init}, params={off}')
//     for nm, t in (('dst', y), ('hT', hT), ('cT', cT)):
//         if t is None: continue
//         print(f'const std::vector<double> k{nm} = {{' + ', '.join('%.17g' % v for v in t.flatten().tolist()) + '};')
//
// run('lstm', 3, 4, 1, False, 0, 3, 2, True)
// run('gru', 3, 4, 1, False, 0, 3, 2, True)
// run('rnn_tanh', 3, 4, 1, False, 0, 3, 2, True)
// run('rnn_relu', 3, 4, 1, False, 0, 3, 2, False)
// run('lstm', 3, 2, 2, True, 0, 3, 2, True)
// run('gru', 3, 2, 2, True, 0, 3, 2, False)
// run('lstm', 3, 4, 2, False, 2, 3, 2, True)
// run('lstm', 3, 4, 2, True, 2, 3, 2, True)
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "layers/recurrent.h"
#include "layers/reference/reference_rnn.h"

namespace rnnlab::layers {
namespace {

// Same formula as value() in the script above.
double value(int64_t i, double salt) { return 0.5 * std::sin(0.7 * double(i) + salt); }

std::vector<double> values(int64_t count, double salt) {
  std::vector<double> out(count);
  for (int64_t i = 0; i < count; ++i) out[i] = value(i, salt);
  return out;
}

struct TorchCase {
  std::string name;
  RecurrentOptions options;
  int seq_len;
  int batch;
  bool with_init;
  int64_t parameter_count;  // as counted by the script: checks the layout size too
  std::vector<double> dst, hT, cT;
};

const std::vector<TorchCase>& torch_cases() {
  static const std::vector<TorchCase> cases = {
    {"lstm_L1_init", {Cell::lstm, 3, 4, 1, Direction::forward, 0.0f, false, 0}, 3, 2, true, 128,
     {
         -0.10099521733779861, 0.07751606192938755, -0.18089689632679398, -0.33149929425721253,
         0.05220762812319605, -0.11083127756250187, 0.1551373757209456, 0.048689237260531718,
         0.013021582852101646, 0.070451535057585057, -0.28758731294146073, -0.25695796704143442,
         0.0055512871459736327, 0.0019512675502996707, 0.054454259905138087, -0.19296201806249538,
         0.063149002283894515, 0.022891793248368302, -0.27736763826713301, -0.14157436821083003,
         0.078108995323031935, 0.029677337260480201, -0.079294303731130139, -0.17950629081807148},
     {
         0.063149002283894515, 0.022891793248368302, -0.27736763826713301, -0.14157436821083003,
         0.078108995323031935, 0.029677337260480201, -0.079294303731130139, -0.17950629081807148},
     {
         0.21741477968224715, 0.051095465505275509, -0.44430281564672491, -0.32335619941728122,
         0.19386094110308391, 0.072853729949680271, -0.14008418071980655, -0.2971481906312593}},
    {"gru_L1_init", {Cell::gru, 3, 4, 1, Direction::forward, 0.0f, false, 0}, 3, 2, true, 108,
     {
         0.09778929740851372, 0.2420360412870739, -0.042397329239399179, -0.55157203533505483,
         -0.021621317493224934, -0.29172514955217549, -0.077934825095474947, 0.22002190031138963,
         0.31398876251643926, 0.23019601929114092, -0.12656476443183148, -0.49136284675177638,
         -0.047327019498644513, 0.10995652199667127, -0.030022442590308562, -0.13313498432256954,
         0.51785835957244841, 0.084283938776846923, -0.065186455911263819, -0.36417865625340701,
         0.22380375803595964, 0.17179578445897575, -0.13552020509217308, -0.2043344336487683},
     {
         0.51785835957244841, 0.084283938776846923, -0.065186455911263819, -0.36417865625340701,
         0.22380375803595964, 0.17179578445897575, -0.13552020509217308, -0.2043344336487683},
     {}},
    {"rnn_tanh_L1_init", {Cell::rnn_tanh, 3, 4, 1, Direction::forward, 0.0f, false, 0}, 3, 2, true, 32,
     {
         0.8010938883846036, 0.27099521424331785, 0.25230790522135349, 0.12794241323695554,
         -0.38892955344280816, 0.7400872605604436, 0.32226066967955513, 0.089871232527741998,
         0.61740812736562689, -0.10198047863710193, 0.75892773848622985, -0.33932962069090028,
         0.44345509564514446, 0.63252224563824511, 0.0035845473817943045, 0.14167294873536512,
         0.18832720727309446, 0.16183617445748599, 0.83767164585634168, -0.64932724546159426,
         0.58864022637896574, -0.038276097729988169, 0.72585208008296564, -0.27836822513593845},
     {
         0.18832720727309446, 0.16183617445748599, 0.83767164585634168, -0.64932724546159426,
         0.58864022637896574, -0.038276097729988169, 0.72585208008296564, -0.27836822513593845},
     {}},
    {"rnn_relu_L1_zero_init", {Cell::rnn_relu, 3, 4, 1, Direction::forward, 0.0f, false, 0}, 3, 2, false, 32,
     {
         0.66948536799346625, 0.70176089835843458, 0, 0.39547057492624138, 0, 0.50950817315797869,
         0.78073640251320064, 0, 0.65055427044934366, 0, 1.0084588407927355, 0, 0.54268518798623921,
         0.61922004014857079, 0.17559655686301018, 0, 0.0015536565805268111, 0.26233917544358087,
         1.2156781690636072, 0, 0.73973260078350367, 0, 1.0154643634053864, 0},
     {
         0.0015536565805268111, 0.26233917544358087, 1.2156781690636072, 0, 0.73973260078350367, 0,
         1.0154643634053864, 0},
     {}},
    {"lstm_L2_bidir_init", {Cell::lstm, 3, 2, 2, Direction::bidirectional_concat, 0.0f, false, 0}, 3, 2, true, 208,
     {
         0.12266295814379223, -0.0026815154908310071, -0.27379037826970259, -0.13904750844756542,
         -0.088236801144405644, -0.1340859415792976, -0.23274870773635753, -0.10966836744861275,
         0.089741820128210512, -0.049717986543254121, -0.27333659342915195, -0.1060451125444582,
         -0.10224505326219721, -0.14324037293745584, -0.1927660016017112, -0.11582163886848658,
         0.052752053954083999, -0.091634331813030351, -0.27762655715741391, -0.024118119605481842,
         -0.11672235389311908, -0.13372386845775502, -0.13083354463354954, -0.020701015106206706},
     {
         -0.088562799867147546, 0.12733456459001521, -0.15164864503640965, 0.022632848070280594,
         0.084109592760964233, 0.085969435132226671, 0.20086734503882955, 0.17092213842422241,
         0.052752053954083999, -0.091634331813030351, -0.11672235389311908, -0.13372386845775502,
         -0.27379037826970259, -0.13904750844756542, -0.23274870773635753, -0.10966836744861275},
     {
         -0.18304758894738599, 0.21165129469248053, -0.25226645537385228, 0.040647866426965176,
         0.15232288614694173, 0.29289887249569191, 0.391839937243317, 0.3644692415893695,
         0.14122672504299802, -0.24206218063018109, -0.3411587993153854, -0.30252411158528897,
         -0.57183319037938629, -0.27713053382601671, -0.54585491393115138, -0.19339188379796346}},
    {"gru_L2_bidir_zero_init", {Cell::gru, 3, 2, 2, Direction::bidirectional_concat, 0.0f, false, 0}, 3, 2, false, 180,
     {
         -0.25150260384917683, -0.15157382624618232, 0.32116684922296412, 0.39622995524841587,
         -0.2062751237425838, -0.18547282613966121, 0.29369917869077267, 0.39830905267518368,
         -0.42085319654547093, -0.19954848488509386, 0.31058172189462552, 0.32961791481498781,
         -0.35660540807912222, -0.27404245385820525, 0.24248264741216691, 0.37350195341084724,
         -0.50801206650436392, -0.23033151301535718, 0.19300647048843139, 0.24177935648776461,
         -0.47333752737906581, -0.29008775730867836, 0.17384636263837117, 0.25983797868715469},
     {
         -0.31926561729638947, -0.23841383533786012, -0.31868650699193313, -0.34995571531274788,
         0.25850694724060341, 0.021903700449338745, 0.082908630576482956, -0.010336789004790375,
         -0.50801206650436392, -0.23033151301535718, -0.47333752737906581, -0.29008775730867836,
         0.32116684922296412, 0.39622995524841587, 0.29369917869077267, 0.39830905267518368},
     {}},
    {"lstm_L2_proj2_init", {Cell::lstm, 3, 4, 2, Direction::forward, 0.0f, false, 2}, 3, 2, true, 192,
     {
         0.17743455308423564, -0.17532771613030299, 0.1203226416017758, -0.053454570013658803,
         0.21983149134430072, -0.18647969720014229, 0.18483403874481494, -0.11847357049585147,
         0.23462448536694028, -0.18542166867337742, 0.21877467610543119, -0.15135837081107673},
     {
         0.13321876461463869, -0.1061578811858014, 0.15316555626282052, -0.10283254378642163,
         0.23462448536694028, -0.18542166867337742, 0.21877467610543119, -0.15135837081107673},
     {
         -0.20376464602807534, -0.29117771535684034, 0.08539414332727574, 0.39602621607986316,
         -0.46184851757868306, -0.049420070617951839, 0.11678717949678272, 0.32581160014358551,
         -0.17121465045977086, -0.36997350115951882, -0.40351414780486594, -0.14561183562373645,
         -0.36154497054504597, -0.39992033207794925, -0.32621828824239452, -0.12349195731791388}},
    {"lstm_L2_bidir_proj2_init", {Cell::lstm, 3, 4, 2, Direction::bidirectional_concat, 0.0f, false, 2}, 3, 2, true, 448,
     {
         -0.13330907378582318, 0.10185818310680607, 0.14336578925791374, -0.091468677918156494,
         0.25452267146375046, -0.21411365384236192, 0.12269240414036083, -0.077985873045913104,
         0.034956928948717755, -0.023736237168413565, 0.14656723942933281, -0.088412065248103439,
         0.23179823515612058, -0.1839623875158484, 0.091200469933339842, -0.05388824388815313,
         0.11927961713046667, -0.086626819503774294, 0.19287621073146666, -0.12109308234021669,
         0.22023969923422337, -0.16952526887274391, 0.0082750231438824332, 0.012726518346982914},
     {
         0.13321876461463869, -0.1061578811858014, 0.15316555626282052, -0.10283254378642163,
         0.10471926288060304, -0.036400722100208997, 0.10898252004845997, -0.057645512594541801,
         0.11927961713046667, -0.086626819503774294, 0.22023969923422337, -0.16952526887274391,
         0.14336578925791374, -0.091468677918156494, 0.12269240414036083, -0.077985873045913104},
     {
         -0.20376464602807534, -0.29117771535684034, 0.08539414332727574, 0.39602621607986316,
         -0.46184851757868306, -0.049420070617951839, 0.11678717949678272, 0.32581160014358551,
         0.31189056590697611, -0.21522480095196161, -0.26827340905450181, -0.44864318518796364,
         0.079868294866787745, -0.0070479377878638061, -0.25556194756806738, -0.32213806800675698,
         -0.26774242460363135, -0.11017404574276279, -0.095916606221414236, 0.2957561530732461,
         -0.53366326204536541, -0.32069819852497139, 0.012006193602316981, 0.23831722554382143,
         0.44841840969953167, 0.42431681943362975, 0.31025025677137147, 0.030991810082821862,
         0.37835351281060869, 0.36555960959109407, 0.26056141963545265, 0.021909212871158185}},
  };
  return cases;
}

class ReferenceVsPytorch : public ::testing::TestWithParam<size_t> {};

TEST_P(ReferenceVsPytorch, ForwardMatchesTorch) {
  const TorchCase& c = torch_cases()[GetParam()];
  const RecurrentOptions& opt = c.options;
  ASSERT_EQ(recurrent_parameter_count(opt), c.parameter_count);
  const int64_t slots = int64_t(opt.num_layers) * direction_count(opt.direction);
  const int64_t rows = int64_t(c.seq_len) * c.batch;
  const auto params = values(c.parameter_count, 0.1);
  const auto src = values(rows * opt.input_size, 1.3);
  const auto h0 = values(slots * c.batch * opt.state_size(), 2.1);
  const auto c0 = values(slots * c.batch * opt.hidden_size, 2.9);
  std::vector<double> dst(rows * opt.output_size()), hT(h0.size()), cT(c0.size());

  ReferenceRecurrent<double> rnn(opt);
  ReferenceForwardArgs<double> args;
  args.seq_len = c.seq_len;
  args.batch = c.batch;
  args.params = params.data();
  args.src = src.data();
  args.h0 = c.with_init ? h0.data() : nullptr;
  args.c0 = c.with_init ? c0.data() : nullptr;
  args.dst = dst.data();
  args.hT = hT.data();
  args.cT = cT.data();
  rnn.forward(args, /*training=*/false);

  auto expect_near = [](const std::vector<double>& got, const std::vector<double>& want, const char* what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << what << "[" << i << "]";
  };
  expect_near(dst, c.dst, "dst");
  expect_near(hT, c.hT, "hT");
  if (opt.cell == Cell::lstm) expect_near(cT, c.cT, "cT");
}

INSTANTIATE_TEST_SUITE_P(Torch, ReferenceVsPytorch, ::testing::Range<size_t>(0, torch_cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& case_info) { return torch_cases()[case_info.param].name; });

}  // namespace
}  // namespace rnnlab::layers
