/*
 * backend.cu -- the CUDA device backend (libsnccl-cuda.so).
 *
 * Fills the core's device table (src/dev/dev.h) with the CUDA runtime
 * (linked statically, so the plugin needs only the driver, libcuda.so.1, on
 * the target) and a few driver calls (stream memory operations, address
 * ranges). The core loads this file only after libcuda.so.1 has loaded.
 *
 * Proxy-side work runs on one non-blocking stream per thread and device and
 * is synchronous from the caller's view. Kernels: element-wise reduction of
 * two inputs into one output for the 12 datatypes and 4 ops, 16-byte vector
 * loads when all three pointers allow it, narrow floats computed in float and
 * rounded back to nearest even (fp8 saturating to the largest finite value),
 * the same rules as the host kernels (src/kernels/kernels.h).
 */
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern "C" {
#include "dev/dev.h"
}

/* ---- kernels ---- */

template <typename T> struct sn_num {
  /* integers: wrap-around sum and product through the unsigned type */
  typedef T acc;
  static __device__ __forceinline__ T load(T v) { return v; }
  static __device__ __forceinline__ T store(T v) { return v; }
};

struct sn_f16 { uint16_t v; };
struct sn_bf16 { uint16_t v; };
struct sn_e4m3 { uint8_t v; };
struct sn_e5m2 { uint8_t v; };

template <> struct sn_num<sn_f16> {
  typedef float acc;
  static __device__ __forceinline__ float load(sn_f16 x) { return __half2float(__ushort_as_half(x.v)); }
  static __device__ __forceinline__ sn_f16 store(float f) { return sn_f16{__half_as_ushort(__float2half_rn(f))}; }
};
template <> struct sn_num<sn_bf16> {
  typedef float acc;
  static __device__ __forceinline__ float load(sn_bf16 x) { return __bfloat162float(__ushort_as_bfloat16(x.v)); }
  static __device__ __forceinline__ sn_bf16 store(float f)
  {
    return sn_bf16{__bfloat16_as_ushort(__float2bfloat16_rn(f))};
  }
};
template <> struct sn_num<sn_e4m3> {
  typedef float acc;
  static __device__ __forceinline__ float load(sn_e4m3 x)
  {
    return __half2float(__half(__nv_cvt_fp8_to_halfraw((__nv_fp8_storage_t)x.v, __NV_E4M3)));
  }
  static __device__ __forceinline__ sn_e4m3 store(float f)
  {
    return sn_e4m3{(uint8_t)__nv_cvt_float_to_fp8(f, __NV_SATFINITE, __NV_E4M3)};
  }
};
template <> struct sn_num<sn_e5m2> {
  typedef float acc;
  static __device__ __forceinline__ float load(sn_e5m2 x)
  {
    return __half2float(__half(__nv_cvt_fp8_to_halfraw((__nv_fp8_storage_t)x.v, __NV_E5M2)));
  }
  static __device__ __forceinline__ sn_e5m2 store(float f)
  {
    return sn_e5m2{(uint8_t)__nv_cvt_float_to_fp8(f, __NV_SATFINITE, __NV_E5M2)};
  }
};

template <typename A> struct sn_unsigned_of { typedef A type; };
template <> struct sn_unsigned_of<int8_t> { typedef uint8_t type; };
template <> struct sn_unsigned_of<int32_t> { typedef uint32_t type; };
template <> struct sn_unsigned_of<int64_t> { typedef uint64_t type; };

template <typename A, int OP> __device__ __forceinline__ A sn_apply(A a, A b)
{
  typedef typename sn_unsigned_of<A>::type U;
  if (OP == SN_RED_SUM) return (A)(U)((U)a + (U)b);
  if (OP == SN_RED_PROD) return (A)(U)((U)a * (U)b);
  if (OP == SN_RED_MAX) return a > b ? a : b;
  return a < b ? a : b;
}
/* float max/min as on the host (src/kernels/kernels.c): a NaN operand loses
 * (fmax), and +0 beats -0 for max (-0 for min) whichever side it is on. */
template <> __device__ __forceinline__ float sn_apply<float, SN_RED_MAX>(float a, float b)
{
  float r = (a > b || b != b) ? a : b;
  return a == b ? __int_as_float(__float_as_int(a) & __float_as_int(b)) : r;
}
template <> __device__ __forceinline__ float sn_apply<float, SN_RED_MIN>(float a, float b)
{
  float r = (a < b || b != b) ? a : b;
  return a == b ? __int_as_float(__float_as_int(a) | __float_as_int(b)) : r;
}
template <> __device__ __forceinline__ double sn_apply<double, SN_RED_MAX>(double a, double b)
{
  double r = (a > b || b != b) ? a : b;
  return a == b ? __longlong_as_double(__double_as_longlong(a) & __double_as_longlong(b)) : r;
}
template <> __device__ __forceinline__ double sn_apply<double, SN_RED_MIN>(double a, double b)
{
  double r = (a < b || b != b) ? a : b;
  return a == b ? __longlong_as_double(__double_as_longlong(a) | __double_as_longlong(b)) : r;
}
template <> __device__ __forceinline__ float sn_apply<float, SN_RED_SUM>(float a, float b) { return a + b; }
template <> __device__ __forceinline__ float sn_apply<float, SN_RED_PROD>(float a, float b) { return a * b; }
template <> __device__ __forceinline__ double sn_apply<double, SN_RED_SUM>(double a, double b) { return a + b; }
template <> __device__ __forceinline__ double sn_apply<double, SN_RED_PROD>(double a, double b) { return a * b; }

template <typename T, int OP> __device__ __forceinline__ T sn_elem(T a, T b)
{
  typedef sn_num<T> N;
  return N::store(sn_apply<typename N::acc, OP>(N::load(a), N::load(b)));
}

template <typename T, int OP>
__global__ void __launch_bounds__(512) sn_reduce_kernel(T *dst, const T *a, const T *b, size_t n)
{
  const size_t tid = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  const int V = 16 / (int)sizeof(T);
  const bool vec = ((((uintptr_t)dst) | ((uintptr_t)a) | ((uintptr_t)b)) & 15) == 0;
  const size_t nvec = vec ? n / V : 0;
  for (size_t i = tid; i < nvec; i += stride) {
    uint4 x = ((const uint4 *)a)[i], y = ((const uint4 *)b)[i], z;
    const T *xa = (const T *)&x, *ya = (const T *)&y;
    T *za = (T *)&z;
#pragma unroll
    for (int k = 0; k < V; k++) za[k] = sn_elem<T, OP>(xa[k], ya[k]);
    ((uint4 *)dst)[i] = z;
  }
  for (size_t i = nvec * V + tid; i < n; i += stride) dst[i] = sn_elem<T, OP>(a[i], b[i]);
}

/* ---- the table ---- */

#define SN_CU_OK(call) ((call) == cudaSuccess)

static __thread cudaStream_t sn_cu_work_stream; /* this thread's proxy stream */
static __thread int sn_cu_work_dev = -1;
static int sn_cu_wait_value_ok = 1; /* cuStreamWaitValue64 works; else a waiting kernel */

static void sn_cu_warn(const char *what, cudaError_t e)
{
  /* the core's logger is not reachable from here: stderr, once per kind */
  fprintf(stderr, "snccl: CUDA backend: %s: %s\n", what, cudaGetErrorString(e));
}

static sn_status_t sn_cu_err(const char *what, cudaError_t e)
{
  if (e == cudaSuccess) return SN_OK;
  sn_cu_warn(what, e);
  cudaGetLastError(); /* clear sticky-free errors */
  return e == cudaErrorInvalidValue ? SN_ERR_INVALID_ARG : SN_ERR_SYSTEM;
}

static cudaStream_t sn_cu_stream(void)
{
  int dev = 0;
  cudaGetDevice(&dev);
  if (sn_cu_work_stream && sn_cu_work_dev == dev) return sn_cu_work_stream;
  cudaStream_t s = NULL;
  if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess) return NULL;
  sn_cu_work_stream = s; /* one per thread (the proxy binds to one device) */
  sn_cu_work_dev = dev;
  return s;
}

static sn_status_t sn_cu_init(int *n)
{
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  *n = 0;
  if (e == cudaErrorNoDevice) return SN_OK;
  if (e != cudaSuccess) {
    /* e.g. a driver older than this runtime: say so, device buffers would
     * otherwise be taken for host memory */
    sn_cu_warn("cudaGetDeviceCount", e);
    cudaGetLastError();
    return SN_ERR_SYSTEM;
  }
  *n = count;
  return SN_OK;
}

static sn_status_t sn_cu_get_device(int *d) { return sn_cu_err("cudaGetDevice", cudaGetDevice(d)); }
static sn_status_t sn_cu_set_device(int d) { return sn_cu_err("cudaSetDevice", cudaSetDevice(d)); }

static sn_status_t sn_cu_ptr_kind(const void *p, sn_mem_kind_t *k, int *d)
{
  cudaPointerAttributes a;
  *k = SN_MEM_HOST;
  *d = -1;
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
    cudaGetLastError();
    return SN_OK; /* not known to CUDA: plain host memory */
  }
  if (a.type == cudaMemoryTypeDevice) {
    *k = SN_MEM_DEVICE;
    *d = a.device;
  } else if (a.type == cudaMemoryTypeManaged) {
    *k = SN_MEM_MANAGED;
    *d = a.device;
  }
  return SN_OK;
}

static sn_status_t sn_cu_mem_alloc(void **p, size_t n) { return sn_cu_err("cudaMalloc", cudaMalloc(p, n)); }
static sn_status_t sn_cu_mem_free(void *p) { return sn_cu_err("cudaFree", cudaFree(p)); }
static sn_status_t sn_cu_host_alloc(void **p, size_t n)
{
  return sn_cu_err("cudaHostAlloc", cudaHostAlloc(p, n ? n : 1, cudaHostAllocPortable));
}
static sn_status_t sn_cu_host_free(void *p) { return sn_cu_err("cudaFreeHost", cudaFreeHost(p)); }

static sn_status_t sn_cu_flag_alloc(volatile uint64_t **host, void **dev)
{
  void *h = NULL, *d = NULL;
  sn_status_t st = sn_cu_err("cudaHostAlloc(flag)", cudaHostAlloc(&h, 64, cudaHostAllocMapped | cudaHostAllocPortable));
  if (st != SN_OK) return st;
  st = sn_cu_err("cudaHostGetDevicePointer", cudaHostGetDevicePointer(&d, h, 0));
  if (st != SN_OK) {
    cudaFreeHost(h);
    return st;
  }
  memset(h, 0, 64);
  *host = (volatile uint64_t *)h;
  *dev = d;
  return SN_OK;
}

static void sn_cu_flag_free(volatile uint64_t *host, void *dev)
{
  (void)dev;
  cudaFreeHost((void *)host);
}

static sn_status_t sn_cu_stream_capturing(void *stream, int *c)
{
  cudaStreamCaptureStatus s = cudaStreamCaptureStatusNone;
  sn_status_t st = sn_cu_err("cudaStreamIsCapturing", cudaStreamIsCapturing((cudaStream_t)stream, &s));
  *c = s != cudaStreamCaptureStatusNone;
  return st;
}

static sn_status_t sn_cu_event_create(void **ev)
{
  return sn_cu_err("cudaEventCreate", cudaEventCreateWithFlags((cudaEvent_t *)ev, cudaEventDisableTiming));
}
static void sn_cu_event_destroy(void *ev) { cudaEventDestroy((cudaEvent_t)ev); }
static sn_status_t sn_cu_event_record(void *ev, void *stream)
{
  return sn_cu_err("cudaEventRecord", cudaEventRecord((cudaEvent_t)ev, (cudaStream_t)stream));
}
static sn_status_t sn_cu_event_query(void *ev)
{
  cudaError_t e = cudaEventQuery((cudaEvent_t)ev);
  if (e == cudaSuccess) return SN_OK;
  if (e == cudaErrorNotReady) {
    cudaGetLastError();
    return SN_INPROGRESS;
  }
  return sn_cu_err("cudaEventQuery", e);
}

/* Fallback when the device cannot wait on memory in a stream: one thread
 * polls the mapped flag. Costs one SM slot while waiting. */
__global__ void sn_wait_flag_kernel(volatile uint64_t *flag, uint64_t value)
{
  while (*flag < value) __nanosleep(2000);
}

static sn_status_t sn_cu_stream_wait_flag(void *stream, void *flag_dev, uint64_t value)
{
  if (sn_cu_wait_value_ok) {
    CUresult r = cuStreamWaitValue64((CUstream)stream, (CUdeviceptr)(uintptr_t)flag_dev, (cuuint64_t)value,
                                     CU_STREAM_WAIT_VALUE_GEQ);
    if (r == CUDA_SUCCESS) return SN_OK;
    if (r != CUDA_ERROR_NOT_SUPPORTED) {
      fprintf(stderr, "snccl: CUDA backend: cuStreamWaitValue64 failed (%d)\n", (int)r);
      return SN_ERR_SYSTEM;
    }
    sn_cu_wait_value_ok = 0;
  }
  sn_wait_flag_kernel<<<1, 1, 0, (cudaStream_t)stream>>>((volatile uint64_t *)flag_dev, value);
  return sn_cu_err("launching the stream wait kernel", cudaGetLastError());
}

static sn_status_t sn_cu_stream_sync(void *stream)
{
  return sn_cu_err("cudaStreamSynchronize", cudaStreamSynchronize((cudaStream_t)stream));
}

static sn_status_t sn_cu_copy(void *dst, const void *src, size_t n)
{
  if (n == 0) return SN_OK;
  cudaStream_t s = sn_cu_stream();
  if (!s) return SN_ERR_SYSTEM;
  sn_status_t st = sn_cu_err("cudaMemcpyAsync", cudaMemcpyAsync(dst, src, n, cudaMemcpyDefault, s));
  if (st != SN_OK) return st;
  return sn_cu_err("cudaStreamSynchronize(copy)", cudaStreamSynchronize(s));
}

template <typename T>
static cudaError_t sn_cu_launch_t(void *dst, const void *a, const void *b, size_t n, sn_redop_t op, cudaStream_t s)
{
  int threads = 512;
  size_t units = (n * sizeof(T) + 15) / 16;
  size_t blocks = (units + threads - 1) / threads;
  if (blocks > 1024) blocks = 1024;
  if (blocks == 0) blocks = 1;
  T *d = (T *)dst;
  const T *x = (const T *)a, *y = (const T *)b;
  switch (op) {
  case SN_RED_SUM: sn_reduce_kernel<T, SN_RED_SUM><<<(unsigned)blocks, threads, 0, s>>>(d, x, y, n); break;
  case SN_RED_PROD: sn_reduce_kernel<T, SN_RED_PROD><<<(unsigned)blocks, threads, 0, s>>>(d, x, y, n); break;
  case SN_RED_MAX: sn_reduce_kernel<T, SN_RED_MAX><<<(unsigned)blocks, threads, 0, s>>>(d, x, y, n); break;
  case SN_RED_MIN: sn_reduce_kernel<T, SN_RED_MIN><<<(unsigned)blocks, threads, 0, s>>>(d, x, y, n); break;
  default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

static sn_status_t sn_cu_reduce(void *dst, const void *a, const void *b, size_t n, sn_dtype_t dt, sn_redop_t op)
{
  if (n == 0) return SN_OK;
  cudaStream_t s = sn_cu_stream();
  if (!s) return SN_ERR_SYSTEM;
  cudaError_t e;
  switch (dt) {
  case SN_DT_INT8: e = sn_cu_launch_t<int8_t>(dst, a, b, n, op, s); break;
  case SN_DT_UINT8: e = sn_cu_launch_t<uint8_t>(dst, a, b, n, op, s); break;
  case SN_DT_INT32: e = sn_cu_launch_t<int32_t>(dst, a, b, n, op, s); break;
  case SN_DT_UINT32: e = sn_cu_launch_t<uint32_t>(dst, a, b, n, op, s); break;
  case SN_DT_INT64: e = sn_cu_launch_t<int64_t>(dst, a, b, n, op, s); break;
  case SN_DT_UINT64: e = sn_cu_launch_t<uint64_t>(dst, a, b, n, op, s); break;
  case SN_DT_FLOAT16: e = sn_cu_launch_t<sn_f16>(dst, a, b, n, op, s); break;
  case SN_DT_FLOAT32: e = sn_cu_launch_t<float>(dst, a, b, n, op, s); break;
  case SN_DT_FLOAT64: e = sn_cu_launch_t<double>(dst, a, b, n, op, s); break;
  case SN_DT_BFLOAT16: e = sn_cu_launch_t<sn_bf16>(dst, a, b, n, op, s); break;
  case SN_DT_FP8E4M3: e = sn_cu_launch_t<sn_e4m3>(dst, a, b, n, op, s); break;
  case SN_DT_FP8E5M2: e = sn_cu_launch_t<sn_e5m2>(dst, a, b, n, op, s); break;
  default: return SN_ERR_INVALID_ARG;
  }
  sn_status_t st = sn_cu_err("launching the reduce kernel", e);
  if (st != SN_OK) return st;
  return sn_cu_err("cudaStreamSynchronize(reduce)", cudaStreamSynchronize(s));
}

/* IPC: CUDA's handle names an allocation; the offset into it travels too. */
typedef struct {
  cudaIpcMemHandle_t h;
  uint64_t offset;
} sn_cu_ipc_t;

static sn_status_t sn_cu_ipc_get(void *p, sn_ipc_handle_t *out)
{
  CUdeviceptr base = 0;
  size_t size = 0;
  if (cuMemGetAddressRange(&base, &size, (CUdeviceptr)(uintptr_t)p) != CUDA_SUCCESS) return SN_ERR_INVALID_ARG;
  sn_cu_ipc_t h;
  memset(&h, 0, sizeof(h));
  sn_status_t st = sn_cu_err("cudaIpcGetMemHandle", cudaIpcGetMemHandle(&h.h, (void *)(uintptr_t)base));
  if (st != SN_OK) return st;
  h.offset = (uint64_t)((uintptr_t)p - (uintptr_t)base);
  memset(out, 0, sizeof(*out));
  memcpy(out->bytes, &h, sizeof(h));
  return SN_OK;
}

static sn_status_t sn_cu_ipc_open(const sn_ipc_handle_t *in, void **p)
{
  sn_cu_ipc_t h;
  memcpy(&h, in->bytes, sizeof(h));
  void *base = NULL;
  sn_status_t st = sn_cu_err("cudaIpcOpenMemHandle", cudaIpcOpenMemHandle(&base, h.h, cudaIpcMemLazyEnablePeerAccess));
  if (st != SN_OK) return st;
  /* kernels read this memory directly: a GPU that cannot reach the peer's
   * (no P2P path) must not use the mapping */
  int me = 0, can = 1;
  cudaPointerAttributes a;
  if (cudaGetDevice(&me) == cudaSuccess && cudaPointerGetAttributes(&a, base) == cudaSuccess && a.device != me &&
      (cudaDeviceCanAccessPeer(&can, me, a.device) != cudaSuccess || !can)) {
    cudaGetLastError();
    cudaIpcCloseMemHandle(base);
    return SN_ERR_UNSUPPORTED;
  }
  *p = (uint8_t *)base + h.offset;
  return SN_OK;
}

static sn_status_t sn_cu_ipc_close(void *p)
{
  CUdeviceptr base = 0;
  size_t size = 0;
  if (cuMemGetAddressRange(&base, &size, (CUdeviceptr)(uintptr_t)p) != CUDA_SUCCESS) return SN_ERR_INVALID_ARG;
  return sn_cu_err("cudaIpcCloseMemHandle", cudaIpcCloseMemHandle((void *)(uintptr_t)base));
}

static sn_dev_ops_t sn_cu_ops;

extern "C" __attribute__((visibility("default"))) const sn_dev_ops_t *snccl_device_backend_v1(void)
{
  sn_dev_ops_t o;
  memset(&o, 0, sizeof(o));
  o.abi_version = SN_DEV_ABI_VERSION;
  o.size = sizeof(sn_dev_ops_t);
  o.name = "cuda";
  o.init = sn_cu_init;
  o.get_device = sn_cu_get_device;
  o.set_device = sn_cu_set_device;
  o.ptr_kind = sn_cu_ptr_kind;
  o.mem_alloc = sn_cu_mem_alloc;
  o.mem_free = sn_cu_mem_free;
  o.host_alloc = sn_cu_host_alloc;
  o.host_free = sn_cu_host_free;
  o.flag_alloc = sn_cu_flag_alloc;
  o.flag_free = sn_cu_flag_free;
  o.stream_capturing = sn_cu_stream_capturing;
  o.event_create = sn_cu_event_create;
  o.event_destroy = sn_cu_event_destroy;
  o.event_record = sn_cu_event_record;
  o.event_query = sn_cu_event_query;
  o.stream_wait_flag = sn_cu_stream_wait_flag;
  o.stream_sync = sn_cu_stream_sync;
  o.copy = sn_cu_copy;
  o.reduce = sn_cu_reduce;
  o.ipc_get = sn_cu_ipc_get;
  o.ipc_open = sn_cu_ipc_open;
  o.ipc_close = sn_cu_ipc_close;
  sn_cu_ops = o;
  return &sn_cu_ops;
}
