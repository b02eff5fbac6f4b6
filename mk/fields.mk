# mk/fields.mk — the request forms against the contract.
#   $(BUILD)/dump_fields   prints the field and rule tables of api/weights.c, api/sample.c and
#                          api/loss.c as JSON (tests/contract/dump_fields.c);
#                          tests/http/test_fields.py (part of `make test`) runs it and checks
#                          every field (name, type, default, range, enum, "only with" values,
#                          required) and every rule against api/openapi.yaml's request schemas
#                          and README's field tables, so that the document cannot drift from
#                          the code.

$(BUILD)/dump_fields: tests/contract/dump_fields.c $(BALLAST_LIBS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LINK_LIBS)

EXTRA_TEST_BINS += $(BUILD)/dump_fields
