/*
 * MKL's CPU dispatch on AMD processors.
 *
 * The official libtorch build that TorchSharp ships links Intel oneMKL statically into
 * libtorch_cpu.so. oneMKL picks its kernels by asking mkl_serv_intel_cpu_true() whether the
 * processor is an Intel one; on AMD processors the answer is no, and it falls back to its generic
 * kernels even where the processor has AVX2 or AVX-512 (perf on this project's AMD EPYC machines:
 * mkl_blas_def_xsgemv and mkl_vml_kernel_sTanh_EXHAynn in place of mkl_blas_avx512_xsgemv and
 * mkl_vml_kernel_sTanh_Z0HAynn). The environment variables that once changed this
 * (MKL_DEBUG_CPU_TYPE, removed in MKL 2020.1) no longer exist, and MKL_CBWR=AVX2/AVX512 keeps the
 * generic kernels (measured: mkl_blas_cnr_def_xsgemv).
 *
 * libtorch_cpu.so exports mkl_serv_intel_cpu_true and calls it through its PLT, so a definition
 * earlier in the process's symbol lookup order wins: build.sh compiles this file into a small shared
 * library and preloads it (LD_PRELOAD) on AMD processors. oneMKL then selects its kernels from the
 * instruction sets the processor reports (CPUID), as it does on Intel ones. ENERGYFS_MKL_DISPATCH=0
 * turns it off. No other library offers this; the override is the workaround AMD users of MKL use.
 * Measured effect, bench/results/mkl-dispatch*.md.
 */
int mkl_serv_intel_cpu_true(void) { return 1; }
