# mk/cxx.mk — the public headers from C++.
#   $(BUILD)/tests/test_cxx_link   tests/cxx/link_test.cpp: lib/ballast.h and api/api.h compiled
#                                  as C++11 ($(CXX), warnings as errors) and linked against
#                                  libballast.a and libballast_api.a; a missing extern "C"
#                                  guard is an undefined, C++-mangled reference. make test runs
#                                  it through EXTRA_TEST_BINS; it prints a Check-style summary.
# OPT carries the sanitizer flags of make check-sanitize, which the C++ link then needs too.

CXX      ?= g++
CXXFLAGS_TEST := -std=c++11 $(WARN) $(OPT) -Ilib -Iapi

$(BUILD)/tests/test_cxx_link: tests/cxx/link_test.cpp lib/ballast.h api/api.h \
		$(BALLAST_LIBS) | deps
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_TEST) -o $@ $< $(LINK_LIBS)

EXTRA_TEST_BINS += $(BUILD)/tests/test_cxx_link
