/*
 * dump_fields.c — prints the request forms of the api layer (the field and
 * rule tables of api/weights.c, api/sample.c and api/loss.c) as JSON, for
 * tests/http/test_fields.py, which checks them against api/openapi.yaml.
 *
 *   {"forms": [{"endpoint": "weights", "fields": [{"name", "type", "doc",
 *     "required", "default"?, "range"?, "choices"?, "only"?, "decimal_string",
 *     "given", "json_only"?}, ...], "rules": [{"kind", "a", "b"}, ...]}, ...]}
 *
 * Defaults are written as the contract spells them: an enum's name, a
 * boolean, a number.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *type_name(field_type t)
{
    switch (t) {
    case FT_BOOL:
        return "bool";
    case FT_INT:
        return "int";
    case FT_UINT64:
        return "uint64";
    case FT_NUMBER:
        return "number";
    case FT_ENUM:
        return "enum";
    case FT_ARRAY:
        return "array";
    }
    return "?";
}

static json_t *default_of(const field_spec *f)
{
    switch (f->type) {
    case FT_BOOL:
        return json_boolean(f->def.i);
    case FT_INT:
        return json_integer(f->def.i);
    case FT_UINT64:
        return json_integer((json_int_t)f->def.u);
    case FT_NUMBER:
        return json_real(f->def.d);
    case FT_ENUM:
        return json_string(f->choices[f->def.i]);
    case FT_ARRAY:
        break;
    }
    return json_null();
}

static json_t *range_of(const field_range *r)
{
    json_t *o = json_pack("{s:f, s:o, s:b, s:b}", "min", r->min, "max",
                          isinf(r->max) ? json_null() : json_real(r->max), "min_open", r->min_open,
                          "max_open", r->max_open);
    if (r->has_also)
        json_object_set_new(o, "also", json_real(r->also));
    return o;
}

static json_t *names_of(const char *const *names, uint64_t set)
{
    json_t *a = json_array();
    for (size_t i = 0; names[i]; i++)
        if ((set >> i) & 1)
            json_array_append_new(a, json_string(names[i]));
    return a;
}

static json_t *field_of(const api_form *form, const field_spec *f)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:b, s:b}", "name", f->name, "type",
                          type_name(f->type), "doc", f->doc ? f->doc : "", "required", f->required,
                          "decimal_string", f->decimal_string, "given", f->given != 0);
    if (f->json_only)
        json_object_set_new(o, "json_only", json_true());
    if (f->has_default)
        json_object_set_new(o, "default", default_of(f));
    if (f->range.ranged)
        json_object_set_new(o, "range", range_of(&f->range));
    if (f->choices)
        json_object_set_new(o, "choices", names_of(f->choices, ~(uint64_t)0));
    if (f->only.field) {
        const field_spec *c = form->fields;
        while (c->name && strcmp(c->name, f->only.field) != 0)
            c++;
        json_object_set_new(
            o, "only",
            json_pack("{s:s, s:o}", "field", f->only.field, "values",
                      c->choices ? names_of(c->choices, f->only.values) : json_array()));
    }
    return o;
}

static json_t *form_of(const api_form *form)
{
    static const char *const kinds[] = {[RULE_ONE_OF] = "one_of",
                                        [RULE_NEEDS] = "needs",
                                        [RULE_EXCLUDES] = "excludes",
                                        [RULE_ONE_OF_ALSO] = "one_of_also"};
    json_t *fields = json_array(), *rules = json_array();
    for (const field_spec *f = form->fields; f->name; f++)
        json_array_append_new(fields, field_of(form, f));
    for (const field_rule *r = form->rules; r && r->a; r++)
        json_array_append_new(
            rules, json_pack("{s:s, s:s, s:s}", "kind", kinds[r->kind], "a", r->a, "b", r->b));
    return json_pack("{s:s, s:o, s:o}", "endpoint", form->endpoint, "fields", fields, "rules",
                     rules);
}

int main(void)
{
    const api_form *forms[] = {&api_weights_form, &api_sample_form, &api_loss_form};
    json_t *all = json_array();
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        json_array_append_new(all, form_of(forms[i]));
    json_t *doc = json_pack("{s:o}", "forms", all);
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    if (!text)
        return 1;
    puts(text);
    free(text);
    json_decref(doc);
    return 0;
}
