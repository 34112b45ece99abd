/**
 * The blocks a panel keeps open or closed, as the lists of block paths the `nnlang/diagram`
 * request takes (`expand` opens a block and the blocks around it, `collapse` closes it; the server
 * applies them over its automatic depth). Pure.
 */

export interface BlockLists {
    expand: string[];
    collapse: string[];
}

function isAncestor(a: string, b: string): boolean {
    return b.startsWith(a + ".");
}

/**
 * Open (`expanded`) or close the block at `path`. Opening also lifts the `collapse` of the blocks
 * around it (an open block inside a closed one would not show); closing keeps the `expand` of the
 * blocks inside, so opening it again brings them back as they were.
 */
export function applyToggle(lists: BlockLists, path: string, expanded: boolean): BlockLists {
    if (expanded) {
        const collapse = lists.collapse.filter((c) => c !== path && !isAncestor(c, path));
        const expand = lists.expand.includes(path) ? lists.expand.slice() : [...lists.expand, path];
        return { expand, collapse };
    }
    const expand = lists.expand.filter((e) => e !== path);
    const collapse = lists.collapse.includes(path) ? lists.collapse.slice() : [...lists.collapse, path];
    return { expand, collapse };
}

/** Drop the names the server matched to no block (the document changed: a block was renamed). */
export function pruneUnknown(lists: BlockLists, unknown: readonly string[]): BlockLists {
    if (!unknown.length) return lists;
    const gone = new Set(unknown);
    return { expand: lists.expand.filter((e) => !gone.has(e)), collapse: lists.collapse.filter((c) => !gone.has(c)) };
}
