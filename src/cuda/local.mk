# src/cuda/local.mk -- the CUDA device backend (included by Makefile.am).
#
# libtool cannot drive nvcc, so the plugin is built by an explicit rule into
# .libs/ next to libnccl.so.2 (where the library looks for it first) and
# installed next to it. The CUDA runtime is linked statically: on the target
# the plugin needs only the driver (libcuda.so.1), which the library checks
# for before loading it.

EXTRA_DIST += src/cuda/backend.cu src/cuda/local.mk

if HAVE_CUDA
SN_CUDA_PLUGIN = .libs/libsnccl-cuda.so
SN_NVCC_FLAGS = -std=c++17 -O3 $(CUDA_GENCODE) -I$(top_srcdir)/src -I$(top_srcdir)/include -I$(top_builddir) \
	-Xcompiler -fPIC,-fvisibility=hidden,-Wall
SN_NVCC_V = $(SN_NVCC_V_@AM_V@)
SN_NVCC_V_ = $(SN_NVCC_V_@AM_DEFAULT_V@)
SN_NVCC_V_0 = @echo "  NVCC     $@";

all-local: $(SN_CUDA_PLUGIN)

$(SN_CUDA_PLUGIN): $(top_srcdir)/src/cuda/backend.cu $(top_srcdir)/src/dev/dev.h $(top_srcdir)/src/kernels/kernels.h \
		$(top_srcdir)/src/util/status.h
	@$(MKDIR_P) .libs
	$(SN_NVCC_V)$(NVCC) $(SN_NVCC_FLAGS) -shared -o $@ $(top_srcdir)/src/cuda/backend.cu \
		-L$(CUDA_HOME)/lib64/stubs -lcuda

install-exec-local: $(SN_CUDA_PLUGIN)
	$(MKDIR_P) '$(DESTDIR)$(libdir)'
	$(INSTALL_PROGRAM) $(SN_CUDA_PLUGIN) '$(DESTDIR)$(libdir)/libsnccl-cuda.so'

uninstall-local:
	rm -f '$(DESTDIR)$(libdir)/libsnccl-cuda.so'

clean-local:
	rm -f $(SN_CUDA_PLUGIN)
endif
