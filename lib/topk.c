/*
 * topk.c — the order in which PyTorch 1.13's CPU topk returns the k largest
 * keys, ties included.
 *
 * torch.multinomial without replacement draws the items of the k largest
 * keys w_i / q_i (sample.c). Distinct keys have one order, but keys can tie:
 * a subnormal weight's key underflows to 0 beside the zero weights' keys,
 * and PyTorch returns whichever zero key its sort happens to leave in
 * front. That sort is libstdc++'s, called by topk_impl_loop
 * (aten/src/ATen/native/TopKImpl.h) on pairs (key, index) compared by key
 * alone, NaN first:
 *     if 64 k <= n:  std::partial_sort(q, q + k, q + n, cmp)
 *     else:          std::nth_element(q, q + k - 1, q + n, cmp);
 *                    std::sort(q, q + k - 1, cmp)
 * The functions below are those of libstdc++ (GCC 12, bits/stl_algo.h and
 * bits/stl_heap.h; unchanged since GCC 4.x), transcribed one for one with
 * their names, so that every comparison and every move happens as there and
 * the ties come out in the same places. Checked against torch 1.13 on
 * thousands of inputs full of ties (tests/unit/test_sample.c keeps some).
 */
#include <math.h>
#include <string.h>

#include "topk.h"

typedef blp_keyed T;

/* topk's comparison for largest = true: x before y. */
static inline int comp(const T *x, const T *y)
{
    return (isnan(x->key) && !isnan(y->key)) || x->key > y->key;
}

static inline void iter_swap(T *a, T *b)
{
    T t = *a;
    *a = *b;
    *b = t;
}

/* std::__lg: floor(log2(n)), n > 0. */
static ptrdiff_t lg(ptrdiff_t n) { return 63 - __builtin_clzll((unsigned long long)n); }

/* ---- heaps (bits/stl_heap.h) ---------------------------------------- */

static void push_heap(T *first, ptrdiff_t hole, ptrdiff_t top, T value)
{
    ptrdiff_t parent = (hole - 1) / 2;
    while (hole > top && comp(first + parent, &value)) {
        first[hole] = first[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    first[hole] = value;
}

static void adjust_heap(T *first, ptrdiff_t hole, ptrdiff_t len, T value)
{
    const ptrdiff_t top = hole;
    ptrdiff_t child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (comp(first + child, first + (child - 1)))
            child--;
        first[hole] = first[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        first[hole] = first[child - 1];
        hole = child - 1;
    }
    push_heap(first, hole, top, value);
}

static void make_heap(T *first, T *last)
{
    ptrdiff_t len = last - first;
    if (len < 2)
        return;
    for (ptrdiff_t parent = (len - 2) / 2;; parent--) {
        adjust_heap(first, parent, len, first[parent]);
        if (parent == 0)
            return;
    }
}

/* std::__pop_heap(first, last, result): *first goes to *result. */
static void pop_heap(T *first, T *last, T *result)
{
    T value = *result;
    *result = *first;
    adjust_heap(first, 0, last - first, value);
}

static void heap_select(T *first, T *middle, T *last)
{
    make_heap(first, middle);
    for (T *i = middle; i < last; ++i)
        if (comp(i, first))
            pop_heap(first, middle, i);
}

static void sort_heap(T *first, T *last)
{
    while (last - first > 1) {
        --last;
        pop_heap(first, last, last);
    }
}

/* std::__partial_sort, the body of std::partial_sort. */
static void partial_sort(T *first, T *middle, T *last)
{
    heap_select(first, middle, last);
    sort_heap(first, middle);
}

/* ---- introsort and introselect (bits/stl_algo.h) -------------------- */

static void move_median_to_first(T *result, T *a, T *b, T *c)
{
    if (comp(a, b)) {
        if (comp(b, c))
            iter_swap(result, b);
        else if (comp(a, c))
            iter_swap(result, c);
        else
            iter_swap(result, a);
    } else if (comp(a, c)) {
        iter_swap(result, a);
    } else if (comp(b, c)) {
        iter_swap(result, c);
    } else {
        iter_swap(result, b);
    }
}

static T *unguarded_partition(T *first, T *last, T *pivot)
{
    for (;;) {
        while (comp(first, pivot))
            ++first;
        --last;
        while (comp(pivot, last))
            --last;
        if (!(first < last))
            return first;
        iter_swap(first, last);
        ++first;
    }
}

static T *unguarded_partition_pivot(T *first, T *last)
{
    T *mid = first + (last - first) / 2;
    move_median_to_first(first, first + 1, mid, last - 1);
    return unguarded_partition(first + 1, last, first);
}

static void unguarded_linear_insert(T *last)
{
    T val = *last;
    T *next = last - 1;
    while (comp(&val, next)) {
        *last = *next;
        last = next;
        --next;
    }
    *last = val;
}

static void insertion_sort(T *first, T *last)
{
    if (first == last)
        return;
    for (T *i = first + 1; i != last; ++i) {
        if (comp(i, first)) {
            T val = *i;
            memmove(first + 1, first, (size_t)(i - first) * sizeof *first);
            *first = val;
        } else {
            unguarded_linear_insert(i);
        }
    }
}

enum { S_THRESHOLD = 16 }; /* _S_threshold */

static void introsort_loop(T *first, T *last, ptrdiff_t depth_limit)
{
    while (last - first > S_THRESHOLD) {
        if (depth_limit == 0) {
            partial_sort(first, last, last);
            return;
        }
        --depth_limit;
        T *cut = unguarded_partition_pivot(first, last);
        introsort_loop(cut, last, depth_limit);
        last = cut;
    }
}

/* std::sort: introsort down to runs of 16, then one insertion sort. */
static void sort(T *first, T *last)
{
    if (first == last)
        return;
    introsort_loop(first, last, lg(last - first) * 2);
    if (last - first > S_THRESHOLD) {
        insertion_sort(first, first + S_THRESHOLD);
        for (T *i = first + S_THRESHOLD; i != last; ++i) /* __unguarded_insertion_sort */
            unguarded_linear_insert(i);
    } else {
        insertion_sort(first, last);
    }
}

/* std::nth_element through std::__introselect. */
static void nth_element(T *first, T *nth, T *last)
{
    if (first == last || nth == last)
        return;
    ptrdiff_t depth_limit = lg(last - first) * 2;
    while (last - first > 3) {
        if (depth_limit == 0) {
            heap_select(first, nth + 1, last);
            iter_swap(first, nth); /* the nth element in its final place */
            return;
        }
        --depth_limit;
        T *cut = unguarded_partition_pivot(first, last);
        if (cut <= nth)
            first = cut;
        else
            last = cut;
    }
    insertion_sort(first, last);
}

void blp_torch_topk(blp_keyed *v, size_t n, size_t k)
{
    /* topk_impl_loop: use_partial_sort = k * 64 <= n */
    if (k <= n / 64) {
        partial_sort(v, v + k, v + n);
    } else {
        nth_element(v, v + k - 1, v + n);
        sort(v, v + k - 1);
    }
}
