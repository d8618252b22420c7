"""Layers, networks, losses, monitoring and the training loop."""
import math

import numpy as np
import pytest

from backprop_lib import datasets, nn
from backprop_lib.gradcheck import numerical_gradient, rel_error
from backprop_lib.optim import SGD, Adam, StepLR
from backprop_lib.tensor import Tensor, cross_entropy, mse


def assert_parameter_gradients_match_numerical(model, loss_of_model, tol=1e-6):
    """Backward's gradient of every parameter against central differences of the loss."""
    model.zero_grad()
    loss_of_model().backward()
    for name, p in model.named_parameters():
        analytic = p.grad.copy()

        def loss_at(values, p=p):
            saved, p.data = p.data, values
            try:
                return loss_of_model().item()
            finally:
                p.data = saved

        numeric = numerical_gradient(loss_at, p.data)
        np.testing.assert_allclose(analytic, numeric, rtol=tol, atol=1e-9, err_msg=name)


# --- Linear --------------------------------------------------------------------------------------------


def test_linear_is_batch_first_x_times_w_plus_b():
    layer = nn.Linear(3, 2, seed=0)
    layer.bias.data[:] = [0.5, -1.0]
    x = np.arange(12.0).reshape(4, 3)
    y = layer(x)
    assert layer.weight.shape == (3, 2) and layer.bias.shape == (2,)
    assert y.shape == (4, 2)
    np.testing.assert_array_equal(y.data, x @ layer.weight.data + layer.bias.data)
    assert layer(np.ones(3)).shape == (2,)


def test_linear_gradients_are_x_transpose_g_and_the_column_sums_of_g():
    layer = nn.Linear(3, 2, seed=1)
    x = Tensor(np.random.default_rng(0).standard_normal((5, 3)), requires_grad=True)
    upstream = np.random.default_rng(1).standard_normal((5, 2))
    layer(x).backward(upstream)
    np.testing.assert_allclose(layer.weight.grad, x.data.T @ upstream)
    np.testing.assert_allclose(layer.bias.grad, upstream.sum(axis=0))
    np.testing.assert_allclose(x.grad, upstream @ layer.weight.data.T)


def test_linear_parameter_and_input_gradients_match_numerical():
    rng = np.random.default_rng(2)
    layer = nn.Linear(4, 3, seed=3)
    layer.bias.data[:] = rng.standard_normal(3)
    x0 = rng.standard_normal((6, 4))
    targets = np.array([0, 2, 1, 1, 0, 2])
    assert_parameter_gradients_match_numerical(layer, lambda: cross_entropy(layer(x0), targets))
    x = Tensor(x0.copy(), requires_grad=True)
    cross_entropy(layer(x), targets).backward()
    numeric = numerical_gradient(lambda v: cross_entropy(layer(v), targets).item(), x0)
    assert rel_error(x.grad, numeric) < 1e-7


@pytest.mark.parametrize("init, expected_std", [
    ("he", math.sqrt(2 / 400)),
    ("xavier", math.sqrt(2 / (400 + 300))),
    ("normal", 1.0),
    (0.05, 0.05),
])
def test_initial_weights_have_the_stated_standard_deviation(init, expected_std):
    layer = nn.Linear(400, 300, init=init, seed=0)
    w = layer.weight.data
    assert abs(w.mean()) < 0.03 * expected_std
    assert w.std() == pytest.approx(expected_std, rel=0.01)
    assert np.all(layer.bias.data == 0)


def test_he_init_keeps_the_activation_scale_through_relu_layers_where_xavier_halves_it():
    x = np.random.default_rng(0).standard_normal((1000, 200))
    mean_square = {}
    for init in ("he", "xavier"):
        h = x
        for seed in range(10):
            h = nn.ReLU()(nn.Linear(200, 200, init=init, seed=seed)(h)).data
        mean_square[init] = np.mean(h ** 2)
    # E[relu(z)^2] = var(z) / 2: He's factor 2 undoes the halving, Glorot's 1 (for a square layer) does not.
    assert 0.5 < mean_square["he"] < 2
    assert 0.5 < mean_square["xavier"] * 2 ** 10 < 2


def test_seed_and_rng_make_the_weights_reproducible():
    assert np.array_equal(nn.Linear(5, 4, seed=3).weight.data, nn.Linear(5, 4, seed=3).weight.data)
    assert not np.array_equal(nn.Linear(5, 4, seed=3).weight.data, nn.Linear(5, 4, seed=4).weight.data)
    rng = np.random.default_rng(0)
    first, second = nn.Linear(5, 4, rng=rng), nn.Linear(5, 4, rng=rng)
    assert not np.array_equal(first.weight.data, second.weight.data)
    with pytest.raises(ValueError, match="either seed or rng"):
        nn.Linear(5, 4, seed=0, rng=np.random.default_rng(0))


def test_linear_options_bias_and_dtype():
    layer = nn.Linear(3, 2, bias=False, seed=0)
    assert layer.bias is None and layer.parameters() == [layer.weight]
    layer32 = nn.Linear(3, 2, seed=0, dtype=np.float32)
    assert layer32.weight.dtype == np.float32 and layer32.bias.dtype == np.float32
    assert layer32(np.ones((2, 3), dtype=np.float32)).dtype == np.float32


@pytest.mark.parametrize("kwargs, message", [
    (dict(in_features=0, out_features=2), "in_features"),
    (dict(in_features=2, out_features=2.5), "out_features"),
    (dict(in_features=2, out_features=2, init="glorot"), "init must be one of"),
    (dict(in_features=2, out_features=2, init=-0.1), "init must be one of"),
    (dict(in_features=2, out_features=2, dtype=np.int64), "floating-point dtype"),
])
def test_linear_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.Linear(**kwargs)


def test_linear_names_the_shapes_when_the_input_width_is_wrong():
    with pytest.raises(ValueError, match=r"last axis has 3 features, got shape \(4, 2\)"):
        nn.Linear(3, 2, seed=0)(np.ones((4, 2)))


# --- Module, Sequential, activations -----------------------------------------------------------------


class TwoHeads(nn.Module):
    def __init__(self):
        self.trunk = nn.Linear(2, 3, seed=0)
        self.heads = [nn.Linear(3, 1, seed=1), nn.Linear(3, 1, seed=2)]
        self.scale = Tensor(np.ones(1), requires_grad=True)
        self.constant = Tensor(np.ones(1))  # no gradient wanted: not a parameter
        self.shared = self.trunk.weight

    def forward(self, x):
        h = self.trunk(x).tanh()
        return (self.heads[0](h) + self.heads[1](h)) * self.scale


def test_parameters_are_found_recursively_in_attribute_order_once_each():
    model = TwoHeads()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["trunk.weight", "trunk.bias", "heads.0.weight", "heads.0.bias",
                     "heads.1.weight", "heads.1.bias", "scale"]
    assert [id(p) for p in model.parameters()] == [id(p) for _, p in model.named_parameters()]
    assert [type(m).__name__ for m in model.modules()] == ["TwoHeads", "Linear", "Linear", "Linear"]


def test_gradients_of_a_custom_module_match_numerical():
    model = TwoHeads()
    x = np.random.default_rng(0).standard_normal((4, 2))
    target = np.random.default_rng(1).standard_normal((4, 1))
    assert_parameter_gradients_match_numerical(model, lambda: mse(model(x), target))


def test_zero_grad_sets_every_gradient_to_none():
    model = TwoHeads()
    mse(model(np.ones((2, 2))), np.zeros((2, 1))).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_activations_apply_elementwise():
    x = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(nn.ReLU()(x).data, [[0.0, 0.0, 3.0]])
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x))
    np.testing.assert_array_equal(nn.Identity()(x).data, x)


def test_sequential_composes_and_behaves_like_a_list():
    a, b = nn.Linear(2, 3, seed=0), nn.Linear(3, 1, seed=1)
    model = nn.Sequential(a, nn.Tanh(), b)
    x = np.ones((5, 2))
    np.testing.assert_array_equal(model(x).data, b(a(x).tanh()).data)
    assert len(model) == 3 and model[0] is a and model[-1] is b and list(model)[1].__class__ is nn.Tanh
    assert isinstance(model[:2], nn.Sequential) and len(model[:2]) == 2
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with pytest.raises(TypeError, match="argument 1 is a ufunc"):
        nn.Sequential(a, np.tanh)


# --- MLP -------------------------------------------------------------------------------------------


def test_mlp_puts_the_activation_after_every_hidden_layer_and_none_after_the_last():
    model = nn.MLP([2, 16, 16, 3])
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert [(l.in_features, l.out_features) for l in model.layers] == [(2, 16), (16, 16), (16, 3)]
    assert len(model.parameters()) == 6
    assert model(np.zeros((7, 2))).shape == (7, 3)
    assert [type(m).__name__ for m in nn.MLP([3, 1])] == ["Linear"]


def test_mlp_default_init_depends_on_the_activation():
    he = nn.MLP([200, 200, 1], activation="relu").layers[0].weight.data.std()
    xavier = nn.MLP([200, 200, 1], activation="tanh").layers[0].weight.data.std()
    assert he == pytest.approx(math.sqrt(2 / 200), rel=0.02)
    assert xavier == pytest.approx(math.sqrt(2 / 400), rel=0.02)


def test_mlp_is_reproducible_from_its_seed():
    w = [l.weight.data for l in nn.MLP([2, 8, 3], seed=5).layers]
    assert all(np.array_equal(a, b) for a, b in zip(w, [l.weight.data for l in nn.MLP([2, 8, 3], seed=5).layers]))
    assert not np.array_equal(w[0], nn.MLP([2, 8, 3], seed=6).layers[0].weight.data)


@pytest.mark.parametrize("activation, loss", [
    ("tanh", "cross_entropy"), ("sigmoid", "mse"), ("relu", "cross_entropy"),
])
def test_mlp_parameter_gradients_match_numerical(activation, loss):
    rng = np.random.default_rng(0)
    model = nn.MLP([3, 5, 4, 2], activation=activation, seed=1)
    for layer in model.layers:
        layer.bias.data[:] = 0.1 * rng.standard_normal(layer.out_features)
    x = rng.standard_normal((6, 3))
    if loss == "mse":
        target = rng.standard_normal((6, 2))
        loss_of_model = lambda: nn.MSELoss()(model(x), target)  # noqa: E731
    else:
        target = np.array([0, 1, 1, 0, 1, 0])
        loss_of_model = lambda: nn.CrossEntropyLoss()(model(x), target)  # noqa: E731
    assert_parameter_gradients_match_numerical(model, loss_of_model)


@pytest.mark.parametrize("kwargs, message", [
    (dict(sizes=[2, 3], activation="softplus"), "activation must be one of"),
    (dict(sizes=[2]), "at least two sizes"),
    (dict(sizes=[2, 0, 3]), r"sizes\[1\]"),
])
def test_mlp_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.MLP(**kwargs)


# --- losses, accuracy, gradient norms ------------------------------------------------------------


def test_loss_modules_are_the_tensor_losses():
    logits = Tensor(np.array([[2.0, 0.0], [0.0, 1.0]]))
    targets = np.array([0, 0])
    assert nn.CrossEntropyLoss()(logits, targets).item() == cross_entropy(logits, targets).item()
    assert nn.CrossEntropyLoss()(logits.data, targets).item() == pytest.approx(
        np.mean([math.log(1 + math.exp(-2)), math.log(1 + math.e)]))
    assert nn.MSELoss()(np.array([1.0, 3.0]), np.array([0.0, 0.0])).item() == 5.0


def test_accuracy_is_the_fraction_of_rows_whose_argmax_is_the_target():
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert nn.accuracy(logits, [0, 1, 1]) == pytest.approx(2 / 3)
    assert nn.accuracy(Tensor(logits), Tensor(np.array([0, 1, 0]))) == 1.0
    with pytest.raises(ValueError, match=r"targets of shape \(3,\)"):
        nn.accuracy(logits, [0, 1])
    with pytest.raises(ValueError, match=r"shape \(N, C\)"):
        nn.accuracy(np.ones(3), [0, 1, 1])


def test_grad_norms_are_the_weight_gradient_norms_in_layer_order():
    model = nn.MLP([2, 4, 3], seed=0)
    with pytest.raises(RuntimeError, match="backward"):
        nn.grad_norms(model)
    X, y = datasets.spirals(n_per_class=10)
    nn.CrossEntropyLoss()(model(X), y).backward()
    assert nn.grad_norms(model) == [float(np.linalg.norm(l.weight.grad)) for l in model.layers]
    with pytest.raises(ValueError, match="no Linear layers"):
        nn.grad_norms(nn.Sequential(nn.ReLU()))


def test_deep_sigmoid_gradients_vanish_towards_the_input_and_relu_ones_do_not():
    X, y = datasets.spirals()
    ratios = {}
    for activation in ("sigmoid", "relu"):
        model = nn.MLP([2] + [32] * 8 + [3], activation=activation, seed=0)
        nn.CrossEntropyLoss()(model(X), y).backward()
        norms = nn.grad_norms(model)
        ratios[activation] = norms[0] / norms[-1]
        if activation == "sigmoid":
            assert norms == sorted(norms)  # every sigmoid layer multiplies by sigma' <= 1/4
    assert ratios["sigmoid"] < 1e-3
    assert ratios["relu"] > 0.1


# --- train -----------------------------------------------------------------------------------------------


def test_an_mlp_trained_with_adam_fits_the_spirals():
    X, y = datasets.spirals()
    model = nn.MLP([2, 16, 16, 3])
    history = nn.train(model, X, y, nn.CrossEntropyLoss(), Adam(model.parameters(), lr=0.02),
                       epochs=60, batch_size=32)
    assert nn.accuracy(model(X), y) >= 0.9
    assert history["loss"][-1] < 0.25 * history["loss"][0]


def test_an_mlp_trained_full_batch_fits_the_moons():
    X, y = datasets.moons()
    model = nn.MLP([2, 16, 16, 2], activation="tanh")
    nn.train(model, X, y, nn.CrossEntropyLoss(), Adam(model.parameters(), lr=0.05), epochs=100)
    assert nn.accuracy(model(X), y) >= 0.95


def test_training_is_deterministic_given_the_seeds():
    def run():
        X, y = datasets.moons(n=60, seed=1)
        model = nn.MLP([2, 8, 2], seed=2)
        h = nn.train(model, X, y, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.1, momentum=0.9),
                     epochs=5, batch_size=16, seed=3)
        return h, [p.data.copy() for p in model.parameters()]

    (h1, w1), (h2, w2) = run(), run()
    assert h1 == h2
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2))


def test_train_follows_the_documented_loop_exactly():
    X, y = datasets.spirals(n_per_class=20, seed=4)
    model, twin = nn.MLP([2, 6, 3], seed=0), nn.MLP([2, 6, 3], seed=0)
    history = nn.train(model, X, y, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.5), epochs=3,
                       batch_size=25, seed=9)
    opt, rng, losses = SGD(twin.parameters(), lr=0.5), np.random.default_rng(9), []
    for _ in range(3):
        order, total = rng.permutation(len(X)), 0.0
        for start in range(0, len(X), 25):
            idx = order[start:start + 25]
            opt.zero_grad()
            loss = cross_entropy(twin(X[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)  # batches of 25, 25, 10: weighted by size
        losses.append(total / len(X))
    assert history["loss"] == losses
    assert all(np.array_equal(a.data, b.data) for a, b in zip(model.parameters(), twin.parameters()))


def test_full_batch_history_starts_at_the_initial_loss_and_records_lr_and_grad_norm():
    X, y = datasets.regression_1d(n=50)
    model = nn.MLP([1, 8, 1], activation="tanh")
    initial = mse(model(X), y).item()
    opt = SGD(model.parameters(), lr=0.1)
    history = nn.train(model, X, y, nn.MSELoss(), opt, epochs=6, scheduler=StepLR(opt, step_size=2, gamma=0.5))
    assert set(history) == {"loss", "lr", "grad_norm"}
    assert history["loss"][0] == initial
    assert history["lr"] == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    assert len(history["grad_norm"]) == 6 and all(g > 0 for g in history["grad_norm"])
    assert history["loss"][-1] < initial


def test_validation_loss_is_recorded_after_each_epoch():
    X, y = datasets.moons(n=100)
    X_tr, y_tr, X_val, y_val = datasets.train_val_split(X, y)
    model = nn.MLP([2, 8, 2])
    history = nn.train(model, X_tr, y_tr, nn.CrossEntropyLoss(), Adam(model.parameters(), lr=0.01),
                       epochs=4, X_val=X_val, y_val=y_val)
    assert len(history["val_loss"]) == 4
    assert history["val_loss"][-1] == cross_entropy(model(X_val), y_val).item()


def test_clipping_bounds_the_update_and_grad_norm_is_recorded_before_clipping():
    X, y = datasets.regression_1d(n=40)
    results = {}
    for clip in (None, 1e-3):
        model = nn.MLP([1, 8, 1], activation="tanh", seed=0)
        before = [p.data.copy() for p in model.parameters()]
        h = nn.train(model, X, y, nn.MSELoss(), SGD(model.parameters(), lr=1.0), epochs=1, clip=clip)
        moved = math.sqrt(sum(np.sum((p.data - b) ** 2) for p, b in zip(model.parameters(), before)))
        results[clip] = (h["grad_norm"][0], moved)
    assert results[1e-3][0] == results[None][0] > 1e-3
    assert results[1e-3][1] <= 1e-3 < results[None][1]


def test_a_loss_that_stops_being_finite_stops_training():
    X, y = datasets.regression_1d(n=10)
    model = nn.MLP([1, 4, 1])
    with pytest.raises(FloatingPointError, match="epoch 0"):
        nn.train(model, X, y, lambda out, t: mse(out, t) * float("nan"), SGD(model.parameters(), lr=0.1), 2)


@pytest.mark.parametrize("change, error, message", [
    (dict(y=np.zeros(9)), ValueError, "X has 10 rows but y has 9"),
    (dict(epochs=0), ValueError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(X_val=np.zeros((3, 1))), ValueError, "both X_val and y_val"),
    (dict(X_val=np.zeros((3, 1)), y_val=np.zeros((2, 1))), ValueError, "X_val has 3 rows"),
    (dict(clip=-1.0), ValueError, "clip"),
    (dict(optimizer="adam"), TypeError, "Optimizer"),
    (dict(X=np.zeros((0, 1)), y=np.zeros((0, 1))), ValueError, "at least one row"),
])
def test_train_refuses_bad_arguments(change, error, message):
    X, y = datasets.regression_1d(n=10)
    model = nn.MLP([1, 4, 1])
    args = dict(X=X, y=y, loss_fn=nn.MSELoss(), optimizer=SGD(model.parameters(), lr=0.1), epochs=2) | change
    with pytest.raises(error, match=message):
        nn.train(model, **args)


def test_train_refuses_a_scheduler_of_another_optimizer():
    X, y = datasets.regression_1d(n=10)
    model = nn.MLP([1, 4, 1])
    other = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="different optimizer"):
        nn.train(model, X, y, nn.MSELoss(), SGD(model.parameters(), lr=0.1), 1, scheduler=StepLR(other, 1))
