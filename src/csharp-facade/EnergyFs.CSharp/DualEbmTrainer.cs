using TorchSharp;
using Microsoft.FSharp.Core;
using static EnergyFs.CSharp.FSharpInterop;
using EnergyFs.Learners;
using EnergyFs.Energies;
using EnergyFs.Metrics;

namespace EnergyFs.CSharp;

/// <summary>Options of <see cref="DualEbmTrainer"/>; the defaults are those of the F# <c>Dual.defaults</c>
/// (η = α_z = α_w = 0.01, β = 10, feature learning, no restarts, 1000 particles, GDA, maximum likelihood, a progress
/// report every 100 iterations).</summary>
public sealed record DualTrainerOptions
{
    private static readonly DualOptions Defaults = Dual.defaults;

    /// <summary>Langevin step η of the particles (default 0.01).</summary>
    public double ParticleStep { get; init; } = Defaults.ParticleStep;
    /// <summary>Feature step α_z: projected gradient on the sphere, then renormalisation (default 0.01).</summary>
    public double FeatureStep { get; init; } = Defaults.FeatureStep;
    /// <summary>Mass step α_w: multiplicative Fisher–Rao update w ← w·exp(−α_w g_w) (default 0.01).</summary>
    public double MassStep { get; init; } = Defaults.MassStep;
    /// <summary>Total-variation bound β: masses are rescaled so that mean(w) ≤ β (default 10).</summary>
    public double TvBound { get; init; } = Defaults.TvBound;
    /// <summary>Lazy (F₂/kernel) regime: features frozen, only masses learn (default false: feature learning, F₁).</summary>
    public bool Lazy { get; init; } = Defaults.Regime.IsLazy;
    /// <summary>Reset all particles to data samples every N iterations (default null: never; 1 is the score-matching limit).</summary>
    public int? RestartEvery { get; init; }
    /// <summary>Reset each particle to a data sample with this probability per iteration (default null: never).
    /// Setting both this and <see cref="RestartEvery"/> throws ArgumentException.</summary>
    public double? RestartProbability { get; init; }
    /// <summary>Number of particles (default 1000).</summary>
    public int Particles { get; init; } = Defaults.Particles;
    /// <summary>Langevin steps per neuron update (default 1: GDA; more: persistent contrastive divergence PCD-K).</summary>
    public int LangevinSteps { get; init; } = Defaults.LangevinSteps;
    /// <summary>Antithetic Langevin noise (default false).</summary>
    public bool Antithetic { get; init; } = Defaults.Antithetic;
    /// <summary>When set, neurons follow the gradient of exact score matching on the sphere with this kernel bandwidth for
    /// the ReLU circle term, instead of the maximum-likelihood estimate E_data[∇f] − E_particles[∇f] (default null).</summary>
    public double? ScoreMatchingBandwidth { get; init; }
    /// <summary>Iterations between two progress reports of <see cref="DualEbmTrainer.Run"/> (default 100; the last
    /// iteration of a call is always reported).</summary>
    public int ReportEvery { get; init; } = Defaults.ReportEvery;

    internal DualOptions ToFSharp()
    {
        if (RestartEvery is not null && RestartProbability is not null)
            throw new ArgumentException("set RestartEvery or RestartProbability, not both", nameof(RestartProbability));
        var restart = RestartEvery is int n ? Restart.NewEvery(n)
            : RestartProbability is double p ? Restart.NewWithProbability(p) : Restart.NoRestart;
        var estimator = ScoreMatchingBandwidth is double h ? Estimator.NewScoreMatching(h) : Estimator.MaximumLikelihood;
        var options = new DualOptions(ParticleStep, FeatureStep, MassStep, TvBound, Lazy ? Regime.Lazy : Regime.FeatureLearning,
            restart, Particles, LangevinSteps, Antithetic, estimator, ReportEvery);
        Dual.validate(options);
        return options;
    }

    internal static DualTrainerOptions FromFSharp(DualOptions o) => new()
    {
        ParticleStep = o.ParticleStep, FeatureStep = o.FeatureStep, MassStep = o.MassStep, TvBound = o.TvBound,
        Lazy = o.Regime.IsLazy,
        RestartEvery = o.Restart is Restart.Every e ? e.Item : null,
        RestartProbability = o.Restart is Restart.WithProbability p ? p.Item : null,
        Particles = o.Particles, LangevinSteps = o.LangevinSteps, Antithetic = o.Antithetic,
        ScoreMatchingBandwidth = o.Estimator is Estimator.ScoreMatching sm ? sm.bandwidth : null,
        ReportEvery = o.ReportEvery,
    };
}

/// <summary>Options of <see cref="DualEbmTrainer.TeacherStudent"/>: the paper's quick teacher–student configuration
/// (2 teacher neurons of mass β = 10, 64 student neurons, η = α_z = α_w = 0.02, 500 particles, 4000 GDA iterations,
/// 2·10⁴ evaluation samples) with a few settings exposed.</summary>
public sealed record TeacherStudentOptions
{
    /// <summary>Seed of the teacher, the data, the student and the particles (default 0).</summary>
    public long Seed { get; init; }
    /// <summary>GDA iterations (default null: the quick configuration's).</summary>
    public int? Iterations { get; init; }
    /// <summary>Train the student in the lazy regime (default false: feature learning).</summary>
    public bool Lazy { get; init; }
    /// <summary>Where to run (default <see cref="DeviceContext.Cpu"/>).</summary>
    public DeviceContext Context { get; init; } = DeviceContext.Cpu;
}

/// <summary>Final metrics of a teacher–student run.</summary>
/// <param name="Kl">KL(teacher ‖ student), by importance sampling on the sphere.</param>
/// <param name="Fisher">Fisher divergence E_teacher‖∇_T f_teacher − ∇_T f_student‖² on teacher samples.</param>
/// <param name="TotalVariation">mean(w) of the student.</param>
/// <param name="AngleDegrees">Mean angle, in degrees, of the teacher neurons to their nearest student neuron.</param>
/// <param name="WallSeconds">Wall time of the run.</param>
public sealed record TeacherStudentMetrics(double Kl, double Fisher, double TotalVariation, double AngleDegrees, double WallSeconds);

/// <summary>Dual training of a shallow energy on the sphere by two-time-scale gradient descent–ascent: particles follow
/// Langevin dynamics on the current energy (ascent on the dual), neurons follow E_data[∇_θ f] − E_particles[∇_θ f]
/// (descent) (Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden 2021, arXiv 2107.05134).
/// Owns its state (energy and particles): dispose it. The data and the generator stay the caller's.</summary>
public sealed class DualEbmTrainer : IDisposable
{
    private readonly EnergyFs.Rng _rng;
    private readonly torch.Tensor _data;
    private DualState _state;
    private bool _disposed;

    /// <summary>Starts from a copy of <paramref name="initial"/> with particles drawn from <paramref name="data"/>.
    /// Data off the unit sphere, with NaN or infinite entries, or of another dimension than the energy's throw
    /// ArgumentException.</summary>
    /// <param name="rng">The generator of the particles and the noise (kept, not owned).</param>
    /// <param name="initial">The initial energy (copied; the caller keeps it).</param>
    /// <param name="data">Training samples [n, d], rows on the unit sphere (kept, not owned: keep it alive).</param>
    /// <param name="options">Step sizes and regime (default: <see cref="DualTrainerOptions"/>'s defaults).</param>
    public DualEbmTrainer(RandomGenerator rng, ShallowSphereEnergy initial, torch.Tensor data, DualTrainerOptions? options = null)
    {
        _rng = NotNull(rng).Inner;
        Options = options ?? new();
        var fs = Options.ToFSharp();
        Rank(data, 2, "samples [n, d]");
        _data = Finite(data);
        _state = ScopedWith(() => Dual.init(_rng, fs, data, NotNull(initial).Inner), StateTensors);
    }

    private DualEbmTrainer(EnergyFs.Rng rng, DualTrainerOptions options, torch.Tensor data, DualState state)
    {
        _rng = rng;
        Options = options;
        _data = data;
        _state = state;
    }

    private static torch.Tensor[] StateTensors(DualState s) => new[] { s.Particles, s.Energy.Features, s.Energy.Signs, s.Energy.Masses };

    private DualState State
    {
        get { NotDisposed(_disposed, this); return _state; }
    }

    /// <summary>The settings (for a loaded trainer: the saved ones).</summary>
    public DualTrainerOptions Options { get; }
    /// <summary>Iterations done.</summary>
    public int Iteration => State.Iteration;
    /// <summary>The current particles [Particles, d] (owned by the trainer; replaced by <see cref="Run"/>).</summary>
    public torch.Tensor Particles => State.Particles;
    /// <summary>A copy of the current energy (the caller disposes it).</summary>
    public ShallowSphereEnergy CurrentEnergy() => new(ScopedWith(() => EnergyFs.Energies.Shallow.copy(State.Energy), e => new[] { e.Features, e.Signs, e.Masses }));

    /// <summary>Runs <paramref name="iterations"/> GDA iterations (each: LangevinSteps particle steps, one neuron step).
    /// Every <see cref="DualTrainerOptions.ReportEvery"/> iterations and after the last, <paramref name="progress"/>
    /// receives a <see cref="TrainingEpoch"/> whose Epoch is the iteration count (<see cref="Iteration"/>), Epochs the
    /// count the call runs to, and Metrics iteration, total_variation, data_energy (mean f on the data) and
    /// particle_energy (mean f on the particles). The token is checked before every iteration: cancelling keeps the
    /// state of the last completed iteration and throws OperationCanceledException. A diverging step throws
    /// InvalidOperationException and keeps the state from before the call.</summary>
    /// <param name="iterations">Number of iterations (≥ 0).</param>
    /// <param name="progress">Receives the reports.</param>
    /// <param name="cancellationToken">Stops the run between iterations.</param>
    public void Run(int iterations, IProgress<TrainingEpoch>? progress = null, CancellationToken cancellationToken = default)
    {
        NonNegative(iterations);
        var state = State;
        var fs = Options.ToFSharp();
        var monitor = Monitor(progress, cancellationToken, state.Iteration + iterations);
        var result = ScopedWith(() => Guard(() => Dual.advance(monitor, _rng, fs, _data, iterations, state)), r => StateTensors(r.Item1));
        Dual.dispose(state);
        _state = result.Item1;
        if (!result.Item2) throw new OperationCanceledException($"dual training cancelled after iteration {_state.Iteration}", cancellationToken);
    }

    /// <summary>Writes the trainer's state to <paramref name="path"/> in the EnergyFs model file format (kind
    /// "dual-trainer": the options and iteration count in the JSON header, the energy's features, signs and masses and
    /// the particles as tensors). The generator and the data are not saved.</summary>
    /// <param name="path">The file to write.</param>
    public void Save(string path)
    {
        var state = State;
        NotNull(path);
        var fs = Options.ToFSharp();
        Guard(() => { EnergyFs.Learners.DualFile.saveState(path, fs, state); return 0; });
    }

    /// <summary>A trainer resumed from a file written by <see cref="Save"/> (on <paramref name="context"/>'s device, in
    /// the saved type), continuing with <paramref name="rng"/> on <paramref name="data"/>. A missing file throws
    /// FileNotFoundException; a file of another kind, a newer format version or a truncated file throws
    /// InvalidDataException naming the file; data of another dimension or with non-finite entries throw ArgumentException.</summary>
    /// <param name="path">The file to read.</param>
    /// <param name="rng">The generator of the particles and the noise from now on (kept, not owned).</param>
    /// <param name="data">Training samples [n, d] on the unit sphere (kept, not owned).</param>
    /// <param name="context">Where to load it (default <see cref="DeviceContext.Cpu"/>).</param>
    public static DualEbmTrainer Load(string path, RandomGenerator rng, torch.Tensor data, DeviceContext? context = null)
    {
        NotNull(path);
        var r = NotNull(rng).Inner;
        Rank(data, 2, "samples [n, d]");
        Finite(data);
        var device = (context ?? DeviceContext.Cpu).Device;
        var loaded = ScopedWith(() => Guard(() => EnergyFs.Learners.DualFile.loadState(path, device)), l => StateTensors(l.Item2));
        var state = loaded.Item2;
        var dim = state.Energy.Dim;
        if (data.shape[1] != dim)
        {
            Dual.dispose(state);
            throw new ArgumentException($"data {Shape(data)} must have {dim} columns (the saved energy's dimension)", nameof(data));
        }
        return new DualEbmTrainer(r, DualTrainerOptions.FromFSharp(loaded.Item1), data, state);
    }

    /// <summary>The paper's teacher–student experiment (arXiv 2107.05134, quick configuration) on S^(dim−1) with
    /// <paramref name="samples"/> training samples: trains a student by GDA on samples of a random teacher and returns
    /// the final KL, Fisher divergence, TV norm and neuron angles.</summary>
    /// <param name="dim">Ambient dimension d ≥ 2.</param>
    /// <param name="samples">Number of training samples.</param>
    /// <param name="options">Seed, iterations, regime and device.</param>
    public static TeacherStudentMetrics TeacherStudent(int dim, int samples, TeacherStudentOptions? options = null)
    {
        var t = options ?? new TeacherStudentOptions();
        Positive(samples);
        if (dim < 2) throw new ArgumentOutOfRangeException(nameof(dim), dim, $"dim must be ≥ 2 (the sphere S^(d−1)), got {dim}");
        if (t.Iterations is int it) Positive(it, nameof(TeacherStudentOptions.Iterations));
        var iterations = t.Iterations ?? QuickIterations;
        var defaults = Dual.defaults;
        var dual = new DualOptions(QuickStep, QuickStep, QuickStep, defaults.TvBound, t.Lazy ? Regime.Lazy : Regime.FeatureLearning,
            defaults.Restart, QuickParticles, defaults.LangevinSteps, defaults.Antithetic, defaults.Estimator, defaults.ReportEvery);
        var context = NotNull(t.Context).Inner;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        return ScopedValue(() =>
        {
            // The setup of the paper's experiment, built from toolkit parts: one generator split into
            // independent streams for the teacher, the samples, the student and the training.
            using var rng = new EnergyFs.Rng(t.Seed, context.Device);
            using var teacherRng = rng.Split();
            using var dataRng = rng.Split();
            using var studentRng = rng.Split();
            using var trainRng = rng.Split();
            var teacher = Shallow.teacher(teacherRng, context, TeacherNeurons, dim, TeacherMass);
            var data = ShallowSphereDivergence.sample(dataRng, context, teacher, samples);
            var evalSamples = ShallowSphereDivergence.sample(dataRng, context, teacher, EvalSamples);
            var student = Shallow.random(studentRng, context, Activation.Relu, StudentNeurons, dim, 1.0);
            var state0 = Dual.init(trainRng, dual, data, student);
            Shallow.dispose(student);
            var final = Dual.run(trainRng, dual, data, iterations, FuncConvert.FromAction<DualState>(_ => { }), state0);
            Dual.dispose(state0);
            var f = ShallowSphereDivergence.all(teacher, evalSamples, final.Energy);
            Dual.dispose(final);
            Shallow.dispose(teacher);
            return new TeacherStudentMetrics(f.Kl, f.Fisher, f.Tv, f.AngleDegrees, watch.Elapsed.TotalSeconds);
        });
    }

    private const int QuickIterations = 4000, QuickParticles = 500, EvalSamples = 20_000, TeacherNeurons = 2, StudentNeurons = 64;
    private const double QuickStep = 0.02, TeacherMass = 10.0;

    /// <summary>Frees the trainer's energy and particles; later use throws ObjectDisposedException.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Dual.dispose(_state);
    }
}
