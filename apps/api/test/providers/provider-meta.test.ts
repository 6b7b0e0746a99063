import { cases, providerSuite } from './provider-suite.ts';

providerSuite(cases.meta);
