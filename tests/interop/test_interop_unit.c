/* cmocka tests of the interop core: the pickle reader (values, memo
 * sharing, every refused opcode, bounds), exact decimal times, and the
 * streaming JSON splitter. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "analyzer/interop/interop_internal.h"
#include "analyzer/interop/jstream.h"

static int load(const char *bytes, size_t n, mt_pickle **p, mt_pv **root, mt_error *err)
{
  return mt_pickle_load((const unsigned char *)bytes, n, "t.pickle", p, root, err);
}

static void test_plain_values(void **state)
{
  /* {'a': [1, -2, 70000, None, True, 'x'], 'b': (3, 4)} written by python3 -c
     pickle.dumps(..., protocol=4) */
  static const char pk[] =
    "\x80\x04\x95\x2b\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01" "a\x94]\x94(K\x01J\xfe\xff\xff\xff"
    "J\x70\x11\x01\x00N\x88\x8c\x01x\x94" "e\x8c\x01" "b\x94K\x03K\x04\x86\x94u.";
  mt_pickle *p;
  mt_pv *r;
  mt_error err;
  assert_int_equal(load(pk, sizeof pk - 1, &p, &r, &err), MT_OK);
  mt_pv *a = mt_pv_get(r, "a");
  assert_non_null(a);
  assert_int_equal(a->type, MT_PV_LIST);
  assert_int_equal(a->n, 6);
  assert_int_equal(mt_pv_int(a->items[0], 0), 1);
  assert_int_equal(mt_pv_int(a->items[1], 0), -2);
  assert_int_equal(mt_pv_int(a->items[2], 0), 70000);
  assert_int_equal(a->items[3]->type, MT_PV_NONE);
  assert_int_equal(a->items[4]->type, MT_PV_BOOL);
  assert_string_equal(mt_pv_str(a->items[5], ""), "x");
  mt_pv *b = mt_pv_get(r, "b");
  assert_int_equal(b->type, MT_PV_TUPLE);
  assert_int_equal(mt_pv_int(b->items[1], 0), 4);
  mt_pickle_free(p);
}

static void test_memo_shares(void **state)
{
  /* [x, x] where x = ['f'] memoized and fetched with BINGET */
  static const char pk[] = "\x80\x04]\x94(]\x94\x8c\x01" "f\x94" "ah\x01" "e.";
  mt_pickle *p;
  mt_pv *r;
  mt_error err;
  assert_int_equal(load(pk, sizeof pk - 1, &p, &r, &err), MT_OK);
  assert_int_equal(r->n, 2);
  assert_ptr_equal(r->items[0], r->items[1]);
  mt_pickle_free(p);
}

static void test_long1_sign(void **state)
{
  static const char neg[] = "\x80\x04\x8a\x02\x00\x80.";    /* -32768 */
  static const char big[] = "\x80\x04\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f.";
  mt_pickle *p;
  mt_pv *r;
  mt_error err;
  assert_int_equal(load(neg, sizeof neg - 1, &p, &r, &err), MT_OK);
  assert_int_equal(r->i, -32768);
  mt_pickle_free(p);
  assert_int_equal(load(big, sizeof big - 1, &p, &r, &err), MT_OK);
  assert_true(r->i == INT64_MAX);
  mt_pickle_free(p);
  static const char wide[] = "\x80\x04\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.";
  assert_int_not_equal(load(wide, sizeof wide - 1, &p, &r, &err), MT_OK);
  assert_non_null(strstr(err.msg, "64 bits"));
}

static void test_refuses_code(void **state)
{
  static const struct { unsigned char op; const char *name; } ops[] = {
    { 'c', "GLOBAL" }, { 0x93, "STACK_GLOBAL" }, { 'R', "REDUCE" }, { 'i', "INST" }, { 'o', "OBJ" },
    { 0x81, "NEWOBJ" }, { 0x92, "NEWOBJ_EX" }, { 'b', "BUILD" }, { 'P', "PERSID" }, { 'Q', "BINPERSID" },
    { 0x82, "EXT1" }, { 0x83, "EXT2" }, { 0x84, "EXT4" }, { 0x97, "NEXT_BUFFER" }, { 0x98, "READONLY_BUFFER" },
  };
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    char pk[8] = { (char)0x80, 4, 'N', (char)ops[i].op, '.' };
    mt_pickle *p;
    mt_pv *r;
    mt_error err;
    assert_int_equal(load(pk, 5, &p, &r, &err), MT_EINVAL);
    assert_non_null(strstr(err.msg, ops[i].name));
    assert_non_null(strstr(err.msg, "t.pickle"));
    assert_null(strchr(err.msg, '\n'));
  }
  /* every byte that is not an opcode of the subset is refused */
  static const char known[] = "\x80\x95.()012N\x88\x89JKM\x8a\x8bG\x8cUCXTB\x8d\x8e])}\x8f" "ae\x90usltd\x91\x85\x86\x87qr\x94hj";
  for (int op = 0; op < 256; op++) {
    if (memchr(known, op, sizeof known - 1))
      continue;
    char pk[4] = { (char)0x80, 4, (char)op, '.' };
    mt_pickle *p;
    mt_pv *r;
    mt_error err;
    assert_int_not_equal(load(pk, 4, &p, &r, &err), MT_OK);
  }
}

static void test_bounds(void **state)
{
  mt_pickle *p;
  mt_pv *r;
  mt_error err;
  static const char len4g[] = "\x80\x04X\xff\xff\xff\xff" "abc";
  assert_int_equal(load(len4g, sizeof len4g - 1, &p, &r, &err), MT_ECORRUPT);
  assert_non_null(strstr(err.msg, "length field"));
  static const char memo[] = "\x80\x04Nr\xff\xff\xff\x7f.";   /* LONG_BINPUT 2^31-1 */
  assert_int_not_equal(load(memo, sizeof memo - 1, &p, &r, &err), MT_OK);
  static const char nostop[] = "\x80\x04N";
  assert_int_equal(load(nostop, sizeof nostop - 1, &p, &r, &err), MT_ECORRUPT);
  static const char two[] = "\x80\x04NN.";
  assert_int_equal(load(two, sizeof two - 1, &p, &r, &err), MT_ECORRUPT);
  /* 100,000 MARKs: no recursion, a bounded stack; fails cleanly */
  static char marks[100010];
  marks[0] = (char)0x80;
  marks[1] = 4;
  memset(marks + 2, '(', 100000);
  marks[100002] = '.';
  assert_int_not_equal(load(marks, 100003, &p, &r, &err), MT_OK);
}

static void test_dec_milli(void **state)
{
  int64_t v;
  assert_int_equal(mt__dec_milli("4458676522690.655", &v), 0);
  assert_true(v == 4458676522690655LL);
  assert_int_equal(mt__dec_milli("1682725898237042.1236", &v), 0);   /* rounds the 4th digit */
  assert_true(v == 1682725898237042124LL);
  assert_int_equal(mt__dec_milli("12", &v), 0);
  assert_true(v == 12000);
  assert_int_equal(mt__dec_milli("-1.5", &v), 0);
  assert_true(v == -1500);
  assert_int_not_equal(mt__dec_milli("1e5", &v), 0);
  assert_int_not_equal(mt__dec_milli("99999999999999999999", &v), 0);
  assert_int_not_equal(mt__dec_milli("abc", &v), 0);
}

static int count_cb(void *ud, const char *key, int in_array, json_object *v)
{
  if (in_array)
    (*(int *)ud)++;
  return MT_OK;
}

static void test_jstream(void **state)
{
  int n = 0;
  mt_error err;
  static const char doc[] = "{\"a\": {\"x\": [1, 2]}, \"traceEvents\": [{\"k\": \"]}\\\"\"}, 2, \"s\", null, [3]], \"z\": 1}";
  assert_int_equal(mt__js_stream_buf((const unsigned char *)doc, sizeof doc - 1, "d", "traceEvents", count_cb, &n,
                                     &err), MT_OK);
  assert_int_equal(n, 5);
  static char deep[20100];
  size_t k = 0;
  k += (size_t)sprintf(deep, "{\"traceEvents\":[");
  for (int i = 0; i < 10000; i++)
    deep[k++] = '[';
  for (int i = 0; i < 10000; i++)
    deep[k++] = ']';
  k += (size_t)sprintf(deep + k, "]}");
  n = 0;
  assert_int_equal(mt__js_stream_buf((const unsigned char *)deep, k, "deep", "traceEvents", count_cb, &n, &err),
                   MT_EINVAL);
  assert_non_null(strstr(err.msg, "nested too deeply"));
  static const char cut[] = "{\"traceEvents\": [{\"a\": 1}, {\"b\":";
  assert_int_equal(mt__js_stream_buf((const unsigned char *)cut, sizeof cut - 1, "cut", "traceEvents", count_cb, &n,
                                     &err), MT_ECORRUPT);
  static const char empty_val[] = "[,]";
  assert_int_equal(mt__js_stream_buf((const unsigned char *)empty_val, sizeof empty_val - 1, "e", "", count_cb, &n,
                                     &err), MT_ECORRUPT);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_plain_values), cmocka_unit_test(test_memo_shares), cmocka_unit_test(test_long1_sign),
    cmocka_unit_test(test_refuses_code), cmocka_unit_test(test_bounds), cmocka_unit_test(test_dec_milli),
    cmocka_unit_test(test_jstream),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
