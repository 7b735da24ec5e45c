/**
 * @module The search interface: the metadata drivers answer a filter over versions or runs with one page of
 * hits. The language and its SQL live in core (../search); a driver only runs the statement.
 */
import type { SearchPage, SearchRequest } from "../search/page.js";

export interface SearchStore {
  search(request: SearchRequest): Promise<SearchPage>;
}
