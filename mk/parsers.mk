# mk/parsers.mk — the unit tests of the request path's header parsers
# (tests/unit/test_parsers.c): server/multipart.c (Content-Type boundary,
# Content-Disposition) and api/npy.c (the .npy header). multipart.c lives
# in server/, which the generic $(BUILD)/tests/% rule does not link, so this
# explicit rule (which make prefers to the pattern) adds its object.
$(BUILD)/tests/test_parsers: tests/unit/test_parsers.c $(BUILD)/obj/server/multipart.o \
		$(BALLAST_LIBS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iserver -Itests/unit -o $@ $< $(BUILD)/obj/server/multipart.o \
		$(LINK_LIBS) $(CHECK_LIBS)

EXTRA_TEST_BINS += $(BUILD)/tests/test_parsers
