"""Cross-language query expansion: French, Spanish and Portuguese trade words -> English.

Most of the corpus is English, and a small English embedder matches French questions
poorly. Adding the English words of a question to its BM25 query lets « Mon importateur
en Colombie doit conserver les documents… » find the English guide on Colombia. The
terms are general export vocabulary; country names come from the shipped country-codes
table (its French, Spanish and Portuguese-like names mapped to the English name).
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

from assistant.lexical import fold
from assistant.lexicon import translate

__all__ = ["expand_query"]

# Multi-word terms first: they are matched before their single words.
_TERMS = """
nom de domaine|domain name; site web|website; site internet|website; sitio web|website
commerce électronique|e-commerce online; comercio electrónico|e-commerce online
vente en ligne|online sale e-commerce; venta en línea|online sale; venda online|online sale
lettre de crédit|letter of credit; crédit documentaire|letter of credit documentary credit
carta de crédito|letter of credit; encaissement documentaire|documentary collection
certificat d'origine|certificate of origin; certificado de origen|certificate of origin
règles d'origine|rules of origin; reglas de origen|rules of origin
regras de origem|rules of origin
facture commerciale|commercial invoice; factura comercial|commercial invoice
liste de colisage|packing list; connaissement|bill of lading
conocimiento de embarque|bill of lading
droits de douane|customs duties tariff; droits d'importation|import duties tariff
déclaration en douane|customs declaration; declaración aduanera|customs declaration
code sh|hs code; código sa|hs code; position tarifaire|tariff heading
délai de rétractation|withdrawal period; droit de rétractation|right of withdrawal
guichet unique|one-stop shop oss; moyens de paiement|payment methods; medios de pago|payment methods
assurance-crédit|credit insurance; zone franche|free trade zone; zona franca|free trade zone
douane|customs; aduana|customs; alfândega|customs; dédouanement|customs clearance
exportation|export; exporter|export; exportateur|exporter; exportación|export; exportar|export
importation|import; importer|import; importateur|importer; importador|importer; importación|import
tva|vat; iva|vat; taxe|tax; impuesto|tax; imposto|tax; tarif|tariff; arancel|tariff
facture|invoice; factura|invoice; fatura|invoice; paiement|payment; pago|payment; pagamento|payment
marchandises|goods; mercancías|goods; mercadorias|goods; produit|product; producto|product
conserver|keep retain records; conservar|keep retain; archives|records; registre|register records
documents|documents; documentos|documents; pendant combien de temps|how long
marché|market; mercado|market; étiquetage|labeling labelling; etiquetado|labeling
étiquette|label; emballage|packaging packing; normes|standards; normas|standards
transport|transport shipping; transporteur|carrier; expédition|shipment shipping; envío|shipment
consommateur|consumer; consumidor|consumer; client|customer; cliente|customer
livraison|delivery; entrega|delivery; délai|deadline period time; plazo|period deadline
frais|fees charges costs; coût|cost; costo|cost; custo|cost; prix|price; precio|price
sanction|penalty; amende|fine penalty; multa|fine penalty; retard|late delay
licence|license licence; permis|permit license; autorisation|authorization license
contrôles à l'exportation|export controls; origine|origin; origen|origin
entrepôt|warehouse; almacén|warehouse; stock|stock inventory; dépôt|consignment stock
chinois|chinese china; chinoise|chinese china; chino|chinese china; brésilien|brazilian brazil
européenne|european eu; européen|european eu; union européenne|european union eu
sac|bag; sacs|bags; sacs à main|handbags; bolsos|handbags; cuir|leather; cuero|leather
chaussures|shoes footwear; vêtements|clothing apparel; meubles|furniture; muebles|furniture
café|coffee; thé|tea; riz|rice; arroz|rice; sucre|sugar; azúcar|sugar; crevettes|shrimp prawns
congelé|frozen; congelées|frozen; congelado|frozen; vin|wine; vino|wine; huile|oil; aceite|oil
jouets|toys; juguetes|toys; batteries|batteries; baterías|batteries; voiture|car vehicle
pièces détachées|spare parts; repuestos|spare parts; machines|machinery; médicaments|medicines
"""


def _pairs() -> list[tuple[str, str]]:
    out = []
    for entry in re.split(r"[;\n]", _TERMS):
        if "|" in entry:
            source, english = entry.split("|", 1)
            out.append((fold(source.strip()), english.strip()))
    return out


@lru_cache(maxsize=4)
def _table(country_csv: str | None) -> list[tuple[re.Pattern[str], str]]:
    pairs = _pairs()
    if country_csv and Path(country_csv).is_file():
        with open(country_csv, encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                english = row.get("CLDR display name") or row.get("UNTERM English Short") or ""
                for column in ("UNTERM French Short", "official_name_fr", "official_name_es"):
                    name = re.sub(r"\s*\((le|la|les|l')\)\s*$", "", row.get(column, "")).strip()
                    if name and english and fold(name) != fold(english) and len(name) > 3:
                        pairs.append((fold(name), english))
    pairs.sort(key=lambda pair: len(pair[0]), reverse=True)
    return [(re.compile(rf"\b{re.escape(src)}\b"), english) for src, english in pairs]


def expand_query(
    query: str,
    language: str,
    country_csv: Path | None = None,
    parallel_dir: Path | None = None,
) -> str:
    """``query`` followed by the English words of its known French/Spanish/Portuguese terms,
    then those learned from the parallel texts under ``parallel_dir`` (assistant.lexicon)."""
    if language == "en":
        return query
    folded = fold(query)
    extra: list[str] = []
    for pattern, english in _table(str(country_csv) if country_csv else None):
        if pattern.search(folded):
            folded = pattern.sub(" ", folded)  # a longer term consumes its words
            extra.append(english)
    if language == "fr":
        known = set(" ".join(extra).lower().split())
        extra += [word for word in translate(query, parallel_dir) if word not in known]
    return f"{query} {' '.join(extra)}" if extra else query
